package definition

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// VersionPrefix starts every version: the hash function's name.
const VersionPrefix = "sha256:"

// Canonical returns the canonical JSON of v: object keys sorted, no insignificant whitespace,
// numbers in one spelling (1.0, 1e0 and 1 are all 1), and the top-level "version" left out. Two
// documents with the same content have the same canonical bytes whatever their formatting.
func Canonical(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the document: %w", err)
	}
	return CanonicalJSON(raw, true)
}

// CanonicalJSON canonicalises JSON text; dropVersion removes a top-level "version" key.
func CanonicalJSON(raw []byte, dropVersion bool) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not valid JSON: more than one value")
	}
	if m, ok := doc.(map[string]any); ok && dropVersion {
		delete(m, "version")
	}
	var buf bytes.Buffer
	if err := writeCanonical(&buf, doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeCanonical(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			buf.Write(kb)
			buf.WriteByte(':')
			if err := writeCanonical(buf, x[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case json.Number:
		n, err := canonicalNumber(x)
		if err != nil {
			return err
		}
		buf.WriteString(n)
	default:
		b, err := json.Marshal(x) // strings, booleans, null
		if err != nil {
			return fmt.Errorf("encoding %v: %w", x, err)
		}
		buf.Write(b)
	}
	return nil
}

// canonicalNumber spells a JSON number one way: exact integers as integers, others in Go's
// shortest round-trip float form.
func canonicalNumber(n json.Number) (string, error) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return strconv.FormatInt(i, 10), nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", fmt.Errorf("number %s is out of range", n)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10), nil
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}

// VersionOf returns the version of a document: "sha256:" and the hex SHA-256 of its canonical
// JSON without the version field.
func VersionOf(v any) (string, error) {
	c, err := Canonical(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return VersionPrefix + hex.EncodeToString(sum[:]), nil
}

// Encode sets the document's version and returns the bytes to publish: canonical JSON with the
// version included, so what is stored is byte-for-byte reproducible.
func Encode(v versioned) ([]byte, error) {
	version, err := VersionOf(v)
	if err != nil {
		return nil, err
	}
	v.setVersion(version)
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the document: %w", err)
	}
	return CanonicalJSON(raw, false)
}

// versioned is a document with a version field.
type versioned interface{ setVersion(string) }

func (p *Pipeline) setVersion(v string)    { p.Version = v }
func (t *EMRTemplate) setVersion(v string) { t.Version = v }

func sortedStrings(ss []string) []string {
	sort.Strings(ss)
	return ss
}
