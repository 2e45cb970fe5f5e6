package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Token is a bearer token as the config file holds it: a name (who acts, in the action log)
// and the SHA-256 of the secret, never the secret itself. Tokens are random and long
// (NewToken), so a plain hash is enough at rest: there is nothing to guess from it.
type Token struct {
	Name   string
	SHA256 [sha256.Size]byte
}

var tokenName = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

// ParseToken checks a config file's token entry: a name of letters, digits, "_", ".", "@" and
// "-", and the hex SHA-256 of the secret.
func ParseToken(name, sha256Hex string) (Token, error) {
	if !tokenName.MatchString(name) {
		return Token{}, fmt.Errorf("token name %q: use 1 to 64 letters, digits, '_', '.', '@' or '-'", name)
	}
	b, err := hex.DecodeString(sha256Hex)
	if err != nil || len(b) != sha256.Size {
		return Token{}, fmt.Errorf("token %s: sha256 must be 64 hex digits (the SHA-256 of the token, as `sluice-runner token %s` prints it)", name, name)
	}
	t := Token{Name: name}
	copy(t.SHA256[:], b)
	return t, nil
}

// tokenPrefix marks sluice-runner's tokens, so that a leaked one is recognisable.
const tokenPrefix = "slr_"

// NewToken returns a new random token and its hex SHA-256 for the config file.
func NewToken() (secret, sha256Hex string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generating a token: %w", err)
	}
	secret = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(secret))
	return secret, hex.EncodeToString(sum[:]), nil
}

// Auth checks tokens and signs the page's sessions and CSRF tokens.
type Auth struct {
	tokens []Token
	// key signs session cookies and CSRF tokens. It is random per process: a restart signs
	// everyone out, which costs a login and needs no key management.
	key []byte
	// Secure marks the cookies Secure (the server speaks TLS).
	Secure bool
	// SessionTTL is how long a login lasts.
	SessionTTL time.Duration
	now        func() time.Time
}

// NewAuth returns an Auth over tokens. Two tokens may not share a name: the action log would
// not tell them apart.
func NewAuth(tokens []Token) (*Auth, error) {
	seen := map[string]bool{}
	for _, t := range tokens {
		if seen[t.Name] {
			return nil, fmt.Errorf("token name %q is used twice: the action log names who acted by it", t.Name)
		}
		seen[t.Name] = true
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generating the session key: %w", err)
	}
	return &Auth{tokens: tokens, key: key, SessionTTL: 12 * time.Hour, now: time.Now}, nil
}

// check returns the name of the token secret is, comparing with every token in constant time.
func (a *Auth) check(secret string) (string, bool) {
	if a == nil || secret == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(secret))
	name, ok := "", false
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.SHA256[:]) == 1 {
			name, ok = t.Name, true
		}
	}
	return name, ok
}

func (a *Auth) mac(parts ...string) string {
	m := hmac.New(sha256.New, a.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Cookie names.
const (
	sessionCookie = "sluice_session"
	csrfCookie    = "sluice_csrf"
	csrfField     = "csrf"
)

// session returns a signed session cookie value for name: name, expiry, MAC.
func (a *Auth) session(name string) string {
	exp := strconv.FormatInt(a.now().Add(a.SessionTTL).Unix(), 10)
	return name + "|" + exp + "|" + a.mac("session", name, exp)
}

// sessionName returns who the session cookie value belongs to, when it is valid.
func (a *Auth) sessionName(v string) (string, bool) {
	parts := strings.Split(v, "|")
	if len(parts) != 3 {
		return "", false
	}
	if !hmac.Equal([]byte(parts[2]), []byte(a.mac("session", parts[0], parts[1]))) {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || a.now().Unix() >= exp {
		return "", false
	}
	// A token removed from the config ends its sessions at the next restart; the name is
	// still checked so that a session never outlives its token's name.
	for _, t := range a.tokens {
		if t.Name == parts[0] {
			return parts[0], true
		}
	}
	return "", false
}

// pageUser returns who makes a page request: a valid session cookie, or HTTP basic
// credentials whose password is a token (the user name is ignored: the token names who acts).
func (a *Auth) pageUser(r *http.Request) (string, bool) {
	if a == nil {
		return "", false
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if name, ok := a.sessionName(c.Value); ok {
			return name, true
		}
	}
	if _, pw, ok := r.BasicAuth(); ok {
		return a.check(pw)
	}
	return "", false
}

// apiUser returns who makes an API request: the bearer token's name. Only a bearer token
// counts: cookies and basic credentials are sent by browsers on their own, so accepting them
// here would open the API to cross-site requests.
func (a *Auth) apiUser(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const bearer = "Bearer "
	if len(h) <= len(bearer) || !strings.EqualFold(h[:len(bearer)], bearer) {
		return "", false
	}
	return a.check(strings.TrimSpace(h[len(bearer):]))
}

// csrfToken returns the CSRF token of the browser's CSRF cookie, setting the cookie first when
// the browser has none. Forms carry the token; a POST is accepted only when it matches the
// cookie, which another site can neither read nor set.
func (a *Auth) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return a.mac("csrf", c.Value)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true, Secure: a.Secure, SameSite: http.SameSiteStrictMode})
	// The form rendered in this response must match the new cookie.
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: v})
	return a.mac("csrf", v)
}

var errCSRF = errors.New("the form's CSRF token is missing or does not match this browser's: reload the page and try again")

// checkCSRF verifies a form POST: its csrf field matches the CSRF cookie, and a request that
// says where it comes from (Origin, Sec-Fetch-Site) comes from this site.
func (a *Auth) checkCSRF(r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || !sameHost(u.Host, r.Host) {
			return fmt.Errorf("cross-origin form post from %q refused", o)
		}
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return fmt.Errorf("cross-site form post (Sec-Fetch-Site: %s) refused", s)
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) < 32 {
		return errCSRF
	}
	got := r.PostFormValue(csrfField)
	if got == "" || !hmac.Equal([]byte(got), []byte(a.mac("csrf", c.Value))) {
		return errCSRF
	}
	return nil
}

func sameHost(a, b string) bool {
	return strings.EqualFold(a, b)
}

// setSession signs name in.
func (a *Auth) setSession(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: a.session(name), Path: "/", HttpOnly: true, Secure: a.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(a.SessionTTL / time.Second),
	})
}

func (a *Auth) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: a.Secure, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// CheckListen refuses an address that other machines can reach unless the server speaks TLS
// or the operator acknowledged plain HTTP (insecure): tokens and sessions would cross the
// network in clear. Loopback addresses are always allowed.
func CheckListen(addr string, tls, insecure bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if tls || insecure || isLoopback(host) {
		return nil
	}
	shown := host
	if shown == "" {
		shown = "every interface"
	}
	return fmt.Errorf("listen address %q serves %s beyond this machine without TLS: tokens and sessions would cross the network in clear; "+
		"set web.tls_cert and web.tls_key, listen on 127.0.0.1 (behind a TLS proxy), or pass --insecure to accept it", addr, shown)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
