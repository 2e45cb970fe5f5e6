package acctest

import (
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// FakeRedshift is a TEST-ONLY stand-in for the Redshift control plane: no emulator of it exists.
// It speaks the AWS query protocol for the one call sluice makes, GetClusterCredentials, and
// answers with the credentials it was given — those of the harness's PostgreSQL — so the provider's
// IAM path runs end to end: SDK call through the endpoint override, then a real login.
type FakeRedshift struct {
	URL string

	user, password string
	srv            *http.Server
	mu             sync.Mutex
	calls          []url.Values
}

// StartFakeRedshift listens on a free 127.0.0.1 port.
func StartFakeRedshift(user, password string) (*FakeRedshift, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the fake Redshift endpoint: %w", err)
	}
	f := &FakeRedshift{URL: "http://" + l.Addr().String(), user: user, password: password}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	return f, nil
}

// Calls returns the form values of every GetClusterCredentials request received.
func (f *FakeRedshift) Calls() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.calls...)
}

// Stop closes the listener.
func (f *FakeRedshift) Stop() { _ = f.srv.Close() }

type getClusterCredentialsResponse struct {
	XMLName    xml.Name `xml:"GetClusterCredentialsResponse"`
	Xmlns      string   `xml:"xmlns,attr"`
	DbUser     string   `xml:"GetClusterCredentialsResult>DbUser"`
	DbPassword string   `xml:"GetClusterCredentialsResult>DbPassword"`
	Expiration string   `xml:"GetClusterCredentialsResult>Expiration"`
	RequestID  string   `xml:"ResponseMetadata>RequestId"`
}

func (f *FakeRedshift) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("Action") != "GetClusterCredentials" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>the fake Redshift endpoint only answers GetClusterCredentials</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, r.PostForm)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	_ = xml.NewEncoder(w).Encode(getClusterCredentialsResponse{
		Xmlns:  "http://redshift.amazonaws.com/doc/2012-12-01/",
		DbUser: f.user, DbPassword: f.password,
		Expiration: time.Now().Add(15 * time.Minute).UTC().Format(time.RFC3339),
		RequestID:  "sluice-fake",
	})
}
