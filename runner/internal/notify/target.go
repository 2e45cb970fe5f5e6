package notify

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Target kinds, as TargetKind reports them.
const (
	KindSNS     = "sns"
	KindWebhook = "webhook"
)

// topicARN matches arn:<partition>:sns:<region>:<12-digit account>:<topic>; topic names are what
// SNS allows (1-256 letters, digits, '-' or '_', with ".fifo" for FIFO topics).
var topicARN = regexp.MustCompile(`^arn:aws(-[a-z]+)*:sns:([a-z]{2}(-[a-z]+)+-\d+):(\d{12}):([A-Za-z0-9_-]{1,251}(\.fifo)?|[A-Za-z0-9_-]{1,256})$`)

var arnChars = regexp.MustCompile(`^[A-Za-z0-9:._-]{1,300}$`)

// Validate reports whether target is something Send can deliver to: an SNS topic ARN
// (arn:aws:sns:region:account:topic) or an http(s) webhook URL with a host. Its error never
// contains the target's userinfo, query values or path beyond the first segment.
func Validate(target string) error {
	_, err := TargetKind(target)
	return err
}

// TargetKind returns KindSNS or KindWebhook for a valid target, else the error Validate gives.
func TargetKind(target string) (string, error) {
	switch {
	case target == "":
		return "", errors.New("notification target is empty: want an SNS topic ARN or an http(s) webhook URL")
	case strings.HasPrefix(target, "arn:"):
		if !topicARN.MatchString(target) {
			// An ARN is not a secret, and showing it is the quickest way to spot the typo; text
			// with other characters than an ARN's may be something else pasted in, so redact it.
			shown := target
			if !arnChars.MatchString(target) {
				shown = RedactTarget(target)
			}
			return "", fmt.Errorf("notification target %q is not an SNS topic ARN: want arn:aws:sns:<region>:<12-digit account>:<topic>", shown)
		}
		return KindSNS, nil
	}
	u, err := url.Parse(target)
	if err != nil {
		// url.Parse errors quote the whole input, which may hold a token: say less.
		return "", errors.New("notification target is neither an SNS topic ARN nor a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return "", fmt.Errorf("notification target %s has no scheme: want an SNS topic ARN or an http(s) webhook URL", RedactTarget(target))
		}
		return "", fmt.Errorf("notification target %s has scheme %q: want an SNS topic ARN or an http(s) webhook URL", RedactTarget(target), u.Scheme)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("notification target %s has no host", RedactTarget(target))
	}
	return KindWebhook, nil
}

// RedactTarget returns target in a form fit for logs and errors. SNS ARNs are returned as they
// are. For URLs it drops the userinfo and fragment, replaces every query value with REDACTED and
// keeps only the first path segment: Slack, Discord and Teams webhooks carry their secret in the
// path, so the rest of it is replaced with REDACTED too. Text that does not parse as a URL is
// replaced entirely.
func RedactTarget(target string) string {
	if strings.HasPrefix(target, "arn:") && topicARN.MatchString(target) {
		return target
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme == "" && u.Host == "") {
		return "REDACTED"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host}
	if u.Opaque != "" {
		r.Opaque = "REDACTED"
	}
	if p := strings.TrimPrefix(u.Path, "/"); p != "" && u.Host == "" {
		r.Path = "/REDACTED" // without a host, the first segment is not a harmless path prefix
	} else if p != "" {
		first, rest, more := strings.Cut(p, "/")
		r.Path = "/" + first
		if more && rest != "" {
			r.Path += "/REDACTED"
		}
	}
	if u.RawQuery != "" {
		r.RawQuery = redactQuery(u.RawQuery)
	}
	return r.String()
}

// redactQuery keeps the parameter names and replaces every value with REDACTED. A query that does
// not parse, or has a parameter without a value (which may be a bare token), is replaced whole.
func redactQuery(raw string) string {
	q, err := url.ParseQuery(raw)
	if err != nil || len(q) == 0 {
		return "REDACTED"
	}
	for k, vs := range q {
		if len(vs) == 0 || vs[0] == "" {
			return "REDACTED"
		}
		q[k] = []string{"REDACTED"}
	}
	return q.Encode()
}

// TargetSecrets returns the parts of a webhook target that RedactTarget hides because they may
// be secret — the user information, every query value, the path after its first segment (as a
// whole and segment by segment), the fragment — raw and decoded, so that the runner can scrub
// them by value from everything it writes (see package redact). An SNS topic ARN has none.
func TargetSecrets(target string) []string {
	if strings.HasPrefix(target, "arn:") && topicARN.MatchString(target) {
		return nil
	}
	var out []string
	add := func(vs ...string) {
		for _, v := range vs {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	// The user information as its author meant it: up to the last '@' of the authority, which
	// url.Parse gives up on when a password holds '/', '?' or '#'.
	if _, rest, ok := strings.Cut(target, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			user, pw, _ := strings.Cut(rest[:at], ":")
			add(user, pw)
		}
	}
	u, err := url.Parse(target)
	if err != nil {
		return out
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		add(u.User.Username(), pw)
	}
	add(u.Opaque, u.Fragment, u.RawFragment)
	if _, rest, more := strings.Cut(strings.TrimPrefix(u.EscapedPath(), "/"), "/"); more || u.Host == "" {
		if u.Host == "" {
			rest = strings.TrimPrefix(u.EscapedPath(), "/")
		}
		add(rest)
		for seg := range strings.SplitSeq(rest, "/") {
			add(seg)
			if d, err := url.PathUnescape(seg); err == nil {
				add(d)
			}
		}
	}
	add(u.RawQuery)
	if q, err := url.ParseQuery(u.RawQuery); err == nil {
		for _, vs := range q {
			add(vs...)
		}
	} else {
		for kv := range strings.SplitSeq(u.RawQuery, "&") {
			_, v, _ := strings.Cut(kv, "=")
			add(v)
		}
	}
	return out
}
