package load

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
)

// textRecords reads Redshift's delimited text (COPY without CSV): one record per line, fields
// split at the delimiter, the NULL string for NULL. With ESCAPE a backslash makes the next
// character part of the field (a delimiter, a newline, a quote, a backslash); without it a
// backslash is an ordinary character. With REMOVEQUOTES a field in double quotes loses them, and
// the delimiters inside stay in the field.
type textRecords struct {
	br           *bufio.Reader
	url          string
	delim        byte
	escape       bool
	removeQuotes bool
	null         string
	// line counts records, for errors.
	line int
}

func newTextRecords(r io.Reader, url string, pc *pgCopy) *textRecords {
	t := &textRecords{br: bufio.NewReaderSize(r, 64<<10), url: url, delim: '|', escape: pc.escape, removeQuotes: pc.removeQuotes, null: `\N`}
	if pc.delimiter != 0 {
		t.delim = pc.delimiter
	}
	if pc.null != nil {
		t.null = *pc.null
	}
	return t
}

// Read returns the next record, nil for a NULL field; io.EOF after the last.
func (t *textRecords) Read() ([]*string, error) {
	var fields []*string
	var val, raw bytes.Buffer
	quoted, inQuotes, started, any := false, false, false, false
	end := func() {
		if !quoted && raw.String() == t.null {
			fields = append(fields, nil)
		} else {
			s := val.String()
			fields = append(fields, &s)
		}
		val.Reset()
		raw.Reset()
		quoted, inQuotes, started = false, false, false
	}
	for {
		c, err := t.br.ReadByte()
		if errors.Is(err, io.EOF) {
			if !any {
				return nil, io.EOF
			}
			if inQuotes {
				return nil, activity.Permanent(fmt.Errorf("%s: record %d: a quoted field is not closed", t.url, t.line+1))
			}
			end()
			t.line++
			return fields, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", t.url, err)
		}
		any = true
		switch {
		case t.escape && c == '\\':
			n, err := t.br.ReadByte()
			if err != nil {
				val.WriteByte(c) // a backslash at the end of the file stays
				raw.WriteByte(c)
				continue
			}
			val.WriteByte(n)
			raw.WriteByte(c)
			raw.WriteByte(n)
			started = true
		case t.removeQuotes && c == '"' && !started && !inQuotes:
			quoted, inQuotes, started = true, true, true
		case inQuotes && c == '"':
			inQuotes = false
		case !inQuotes && c == t.delim:
			end()
		case !inQuotes && c == '\n':
			if b := val.Bytes(); len(b) > 0 && b[len(b)-1] == '\r' {
				val.Truncate(len(b) - 1)
				raw.Truncate(raw.Len() - 1)
			}
			end()
			t.line++
			return fields, nil
		default:
			val.WriteByte(c)
			raw.WriteByte(c)
			started = true
		}
	}
}

// textCSV turns delimited text into the CSV that PostgreSQL's COPY … (FORMAT csv) reads: every
// value quoted, NULL an empty unquoted field.
type textCSV struct {
	rec *textRecords
	buf bytes.Buffer
	err error
}

func (x *textCSV) Read(p []byte) (int, error) {
	for x.buf.Len() == 0 {
		if x.err != nil {
			return 0, x.err
		}
		var fields []*string
		fields, x.err = x.rec.Read()
		for i, f := range fields {
			if i > 0 {
				x.buf.WriteByte(',')
			}
			if f != nil {
				x.buf.WriteByte('"')
				x.buf.Write(bytes.ReplaceAll([]byte(*f), []byte(`"`), []byte(`""`)))
				x.buf.WriteByte('"')
			}
		}
		if len(fields) > 0 {
			x.buf.WriteByte('\n')
		}
	}
	n, _ := x.buf.Read(p)
	return n, nil
}
