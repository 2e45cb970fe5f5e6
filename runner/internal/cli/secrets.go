package cli

import (
	"context"
	"strings"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/config"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/engine"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/notify"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// addConfigSecrets registers the passwords of the state database URI and of every connection
// URI of c (a Secrets Manager ARN is no secret: its value is registered when it is fetched).
func (g *globals) addConfigSecrets(c config.Config) {
	g.addURISecrets(c.Database)
	for _, uri := range c.Connections {
		if !strings.HasPrefix(uri, "arn:") {
			g.addURISecrets(uri)
		}
	}
}

// addURISecrets registers a URI's passwords and, when it has any, the URI itself.
func (g *globals) addURISecrets(uri string) {
	if pws := conn.URISecrets(uri); len(pws) > 0 {
		g.secrets.Add(pws...)
		g.secrets.AddWhole(uri)
	}
}

// warnShortSecrets says which configured passwords are too short to be scrubbed by value.
func (g *globals) warnShortSecrets(c config.Config) {
	check := func(what, uri string) {
		// URISecrets reads the password both as its author meant it and as url.Parse cuts a
		// URI with unencoded delimiters; the longest is the password.
		longest := ""
		for _, pw := range conn.URISecrets(uri) {
			if len(pw) > len(longest) {
				longest = pw
			}
		}
		if longest != "" && redact.TooShort(longest) {
			g.log.Warn("a password shorter than the scrubbing minimum cannot be kept out of logs and errors by value: use a longer one",
				"of", what, "minimum", redact.MinLen)
		}
	}
	check("state database", c.Database)
	for name, uri := range c.Connections {
		check("connection "+name, uri)
	}
}

// scrubStatus scrubs the text of a status read from the state database before it is shown:
// rows written before a secret was configured, or by a runner that did not know it, may quote
// it.
func scrubStatus(s redact.Scrubber, ps []status.Pipeline) {
	scrubRun := func(r *status.Run) {
		for i := range r.Activities {
			a := &r.Activities[i]
			a.Error, a.Summary = s.Scrub(a.Error), s.Scrub(a.Summary)
			for j := range a.Warnings {
				a.Warnings[j] = s.Scrub(a.Warnings[j])
			}
		}
	}
	for i := range ps {
		p := &ps[i]
		if p.LastRun != nil {
			scrubRun(p.LastRun)
		}
		for j := range p.Runs {
			scrubRun(&p.Runs[j])
		}
		for j := range p.RecentFailures {
			p.RecentFailures[j].Error = s.Scrub(p.RecentFailures[j].Error)
		}
	}
}

// notifier adapts notify.Sender to the engine. It registers the secret parts of each webhook
// target (its token, wherever the URL carries it) before anything about the target is written.
type notifier struct {
	s       *notify.Sender
	secrets *redact.Secrets
}

func (n notifier) Notify(ctx context.Context, target string, m engine.Notification) error {
	if parts := notify.TargetSecrets(target); len(parts) > 0 {
		n.secrets.Add(parts...)
		n.secrets.AddWhole(target)
	}
	return n.s.Send(ctx, target, notify.Message{
		Event: m.Event, Pipeline: m.Pipeline, Owner: m.Owner, RunID: m.RunID,
		IntervalStart: m.IntervalStart, IntervalEnd: m.IntervalEnd, Activity: m.Activity, Error: m.Error, Late: m.Late,
		Version: m.Version, Outputs: m.Outputs,
	})
}
