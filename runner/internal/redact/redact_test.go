package redact_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
)

// The case: pgx cuts a URI's user information at the first '@', so the part of the
// password after it becomes the host its errors print; other delimiters move the rest of the
// password into the database name or a parse error.
func TestScrub_WhatPgxParsesOutOfAnUnencodedPasswordIsScrubbed(t *testing.T) {
	for _, pw := range []string{
		"dor@SECRETtail9", "12/SECRETtail9", "dor/SECRET@tail9", "x@dorSECRETtail9/",
		"dor?SECRETtail9", "dor#SECRETtail9", "dor%41SECRETtail9", "dor:SECRET:tail9",
	} {
		t.Run(pw, func(t *testing.T) {
			s := redact.New()
			s.Add(pw)
			uri := "postgres://sluice:" + pw + "@127.0.0.1:5432/db"
			var printed string
			cfg, err := pgxpool.ParseConfig(uri)
			if err != nil {
				printed = err.Error()
			} else {
				c := cfg.ConnConfig
				printed = fmt.Sprintf("connecting to %s:%d/%s as %s (password %s)", c.Host, c.Port, c.Database, c.User, c.Password)
			}
			_, uerr := url.Parse(uri)
			if uerr != nil {
				printed += " / " + uerr.Error()
			}
			clean := s.Scrub(printed)
			for _, piece := range strings.FieldsFunc(pw, func(r rune) bool { return strings.ContainsRune("@/?#:%", r) }) {
				if len(piece) >= redact.MinLen && strings.Contains(clean, piece) {
					t.Errorf("piece %q of the password survives in %q (from %q)", piece, clean, printed)
				}
			}
			if strings.Contains(clean, "SECRET") {
				t.Errorf("scrubbed text still holds SECRET: %q", clean)
			}
		})
	}
}

func TestForms_CoverEncodedDecodedAndEscapedForms(t *testing.T) {
	forms := redact.Forms(`pa"ss/wo%41rd<x>`)
	for _, want := range []string{
		`pa"ss/wo%41rd<x>`,            // as configured
		`pa"ss/woArd<x>`,              // percent-decoded, as pgx sends it
		`pa%22ss%2Fwo%2541rd%3Cx%3E`,  // query-escaped
		`pa\"ss/wo%41rd\u003cx\u003e`, // in JSON, HTML-escaped (json.Marshal)
		`pa\"ss/wo%41rd<x>`,           // in JSON without HTML escaping, and Go-quoted
		`wo%41rd<x>`,                  // a piece after a delimiter
	} {
		found := false
		for _, f := range forms {
			found = found || f == want
		}
		if !found {
			t.Errorf("forms lack %q", want)
		}
	}
	for _, f := range forms {
		if len(f) < redact.MinLen {
			t.Errorf("form %q is shorter than MinLen", f)
		}
	}
	if got := redact.Forms("abc"); got != nil {
		t.Errorf("a 3-character secret has forms %q; want none (too short to scrub)", got)
	}
}

func TestAddWhole_KeepsOrdinaryPiecesOfAValue(t *testing.T) {
	s := redact.New()
	s.AddWhole(`{"engine":"postgres","host":"db","password":"hunter2hunter"}`)
	s.Add("hunter2hunter")
	got := s.Scrub(`engine postgres on host db refused {"engine":"postgres","host":"db","password":"hunter2hunter"} and hunter2hunter`)
	if want := "engine postgres on host db refused xxxxx and xxxxx"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestError_ScrubsTheMessageAndKeepsTheChain(t *testing.T) {
	s := redact.New()
	s.Add("s3cr3t-value")
	err := s.Error(fmt.Errorf("opening: password s3cr3t-value refused: %w", fs.ErrPermission))
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error still holds the secret: %v", err)
	}
	if !errors.Is(err, fs.ErrPermission) {
		t.Error("errors.Is no longer finds the cause")
	}
	plain := errors.New("nothing secret here")
	if s.Error(plain) != plain { //nolint:errorlint // identity is the point: the same error, not a wrapper
		t.Error("an error without a secret is not returned as is")
	}
}

func TestHandler_ScrubsMessageAttrsErrorsGroupsAndValuesAddedLater(t *testing.T) {
	s := redact.New()
	var buf bytes.Buffer
	log := slog.New(s.Handler(slog.NewJSONHandler(&buf, nil))).With("uri", "postgres://u:late<secret>@h/db")
	s.Add("late<secret>") // registered after the logger was built: a Secrets Manager value
	s.Add("p@ss/word<1>")
	log.Info("open p@ss/word<1> failed", "error", errors.New("host word<1>@127.0.0.1"),
		slog.Group("g", "conf", map[string]string{"pw": "p@ss/word<1>"}), "n", 3)
	out := buf.String()
	for _, leak := range []string{"word", "p@ss", "secret", `\u003c1\u003e`} {
		if strings.Contains(out, leak) {
			t.Errorf("log holds %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, `"n":3`) {
		t.Errorf("a value without secrets lost its type:\n%s", out)
	}
}

func TestWriter_ScrubsEachWrite(t *testing.T) {
	s := redact.New()
	var buf bytes.Buffer
	w := s.Writer(&buf)
	fmt.Fprintf(w, "before: tok3n-abc\n")
	s.Add("tok3n-abc")
	fmt.Fprintf(w, "after: tok3n-abc\n")
	if got, want := buf.String(), "before: tok3n-abc\nafter: xxxxx\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
