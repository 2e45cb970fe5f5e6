package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
)

// jsonCSV reads JSON objects (one per line, or any whitespace between them, as Redshift's
// FORMAT AS JSON 'auto' does) and yields CSV rows for COPY … WITH (FORMAT csv), one object at
// a time: a file is never held in memory whole.
//
// Keys map to columns by exact name, as with Redshift's 'auto' (columns are lower case); keys
// that are not columns are ignored and missing keys load NULL. Strings load as they are,
// numbers as written, booleans as true/false, nested objects and arrays as their compact JSON
// text (for json, jsonb or text columns).
type jsonCSV struct {
	dec   *json.Decoder
	url   string
	index map[string]int
	ncols int
	// n counts objects read, for errors.
	n   int
	buf bytes.Buffer
	row []json.RawMessage
	err error
}

func newJSONCSV(r io.Reader, url string, cols []string) *jsonCSV {
	dec := json.NewDecoder(r)
	index := make(map[string]int, len(cols))
	for i, c := range cols {
		index[c] = i
	}
	return &jsonCSV{dec: dec, url: url, index: index, ncols: len(cols), row: make([]json.RawMessage, len(cols))}
}

// Read implements io.Reader.
func (j *jsonCSV) Read(p []byte) (int, error) {
	for j.buf.Len() == 0 {
		if j.err != nil {
			return 0, j.err
		}
		j.err = j.next()
	}
	n, _ := j.buf.Read(p)
	return n, nil
}

// next converts one object into one CSV row in buf; io.EOF at the end of the input.
func (j *jsonCSV) next() error {
	var raw json.RawMessage
	if err := j.dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return activity.Permanent(fmt.Errorf("%s: object %d (byte %d): invalid JSON: %w", j.url, j.n+1, j.dec.InputOffset(), err))
	}
	j.n++
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return activity.Permanent(fmt.Errorf("%s: object %d (byte %d): expected a JSON object, got %.40s", j.url, j.n, j.dec.InputOffset(), raw))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return activity.Permanent(fmt.Errorf("%s: object %d: %w", j.url, j.n, err))
	}
	clear(j.row)
	for k, v := range obj {
		if i, ok := j.index[k]; ok {
			j.row[i] = v
		}
	}
	for i, v := range j.row {
		if i > 0 {
			j.buf.WriteByte(',')
		}
		if err := writeCSVField(&j.buf, v); err != nil {
			return activity.Permanent(fmt.Errorf("%s: object %d: %w", j.url, j.n, err))
		}
	}
	j.buf.WriteByte('\n')
	return nil
}

// writeCSVField writes one JSON value as a CSV field: NULL (JSON null or a missing key) as an
// unquoted empty field, which is NULL in PostgreSQL's CSV format, and every other value quoted,
// so an empty string stays an empty string.
func writeCSVField(b *bytes.Buffer, v json.RawMessage) error {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return nil
	}
	var text []byte
	switch v[0] {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("decoding a string: %w", err)
		}
		text = []byte(s)
	case '{', '[':
		var c bytes.Buffer
		if err := json.Compact(&c, v); err != nil {
			return fmt.Errorf("compacting a nested value: %w", err)
		}
		text = c.Bytes()
	default: // numbers (as written), true, false
		text = v
	}
	b.WriteByte('"')
	for _, c := range text {
		if c == '"' {
			b.WriteByte('"')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return nil
}
