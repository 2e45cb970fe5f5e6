package load

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

// Options are Redshift COPY options, one per entry of redshift_copy.options ("IGNOREHEADER 1",
// "DELIMITER '|'", "NULL AS '\N'", "TIMEFORMAT 'auto'", "GZIP"). They are parsed rather than
// pasted into SQL: an entry must be one known option with a well-formed value, so a definition
// cannot smuggle a second statement into the COPY, and each option can be translated for
// PostgreSQL or refused there by name.
//
// A quoted value means exactly the characters between the quotes, with '' for a quote: the
// user writes NULL AS '\N' for backslash-N on both dialects, and the value is re-quoted with
// Dialect.QuoteLiteral (which doubles the backslash for Redshift).

// argKind is the kind of value an option takes.
type argKind int

const (
	argNone       argKind = iota
	argInt                // IGNOREHEADER 1
	argLiteral            // DELIMITER '|'
	argOptLiteral         // ACCEPTINVCHARS [AS] ['?']
	argWord               // COMPUPDATE OFF
)

// optionSpec describes one Redshift COPY option.
type optionSpec struct {
	arg argKind
	// words are the allowed bare values of an argWord option ("" allowed: the value is optional).
	words []string
	// pg says how PostgreSQL loads treat the option: see pgSupport.
	pg pgSupport
}

// pgSupport is how the PostgreSQL load path handles an option.
type pgSupport int

const (
	pgRefused pgSupport = iota // Redshift-only: a Permanent error names it
	pgMapped                   // translated to a PostgreSQL COPY option or done by the runner
	pgIgnored                  // accepted and ignored (only with the value 'auto')
)

// knownOptions are the Redshift COPY data-format, conversion and load options sluice accepts
// (https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html). Source, credential and format
// clauses (FROM, IAM_ROLE, FORMAT AS …) are not options: they come from from, iam_role and format.
var knownOptions = map[string]optionSpec{
	"IGNOREHEADER":     {arg: argInt, pg: pgMapped},
	"DELIMITER":        {arg: argLiteral, pg: pgMapped},
	"NULL":             {arg: argLiteral, pg: pgMapped},
	"QUOTE":            {arg: argLiteral, pg: pgMapped},
	"GZIP":             {arg: argNone, pg: pgMapped},
	"BZIP2":            {arg: argNone, pg: pgMapped},
	"TIMEFORMAT":       {arg: argLiteral, pg: pgIgnored},
	"DATEFORMAT":       {arg: argLiteral, pg: pgIgnored},
	"ZSTD":             {arg: argNone},
	"LZOP":             {arg: argNone},
	"MAXERROR":         {arg: argInt},
	"ACCEPTINVCHARS":   {arg: argOptLiteral},
	"ACCEPTANYDATE":    {arg: argNone},
	"BLANKSASNULL":     {arg: argNone},
	"EMPTYASNULL":      {arg: argNone},
	"TRUNCATECOLUMNS":  {arg: argNone},
	"TRIMBLANKS":       {arg: argNone},
	"FILLRECORD":       {arg: argNone},
	"ESCAPE":           {arg: argNone, pg: pgMapped},
	"READRATIO":        {arg: argInt},
	"REMOVEQUOTES":     {arg: argNone, pg: pgMapped},
	"IGNOREBLANKLINES": {arg: argNone},
	"ROUNDEC":          {arg: argNone},
	"EXPLICIT_IDS":     {arg: argNone},
	"ENCRYPTED":        {arg: argNone},
	"SERIALIZETOJSON":  {arg: argNone},
	"REGION":           {arg: argLiteral},
	"ENCODING":         {arg: argWord, words: []string{"UTF8", "UTF16", "UTF16LE", "UTF16BE"}},
	"COMPUPDATE":       {arg: argWord, words: []string{"", "ON", "OFF", "TRUE", "FALSE", "PRESET"}},
	"STATUPDATE":       {arg: argWord, words: []string{"", "ON", "OFF", "TRUE", "FALSE"}},
}

// KnownOptions lists the COPY option keywords redshift_copy.options accepts, sorted.
func KnownOptions() []string {
	out := make([]string, 0, len(knownOptions))
	for k := range knownOptions {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// option is one parsed entry of redshift_copy.options.
type option struct {
	// index is the entry's position in redshift_copy.options, for errors.
	index   int
	raw     string
	keyword string
	// value is the unquoted literal, the integer's digits or the upper-cased word; hasValue
	// tells an absent optional value from an empty literal.
	value    string
	hasValue bool
	spec     optionSpec
}

func (o option) path() string { return fmt.Sprintf("redshift_copy.options[%d]", o.index) }

// sql renders the option for a Redshift COPY statement.
func (o option) sql() string {
	switch {
	case !o.hasValue:
		return o.keyword
	case o.spec.arg == argLiteral || o.spec.arg == argOptLiteral:
		lit := redshift.Redshift.QuoteLiteral(o.value)
		if o.keyword == "NULL" {
			return "NULL AS " + lit // AS is required after NULL
		}
		return o.keyword + " " + lit
	default:
		return o.keyword + " " + o.value
	}
}

// parseOptions parses every entry of redshift_copy.options; the errors name the entry.
func parseOptions(entries []string) ([]option, error) {
	out := make([]option, 0, len(entries))
	seen := map[string]int{}
	for i, e := range entries {
		o, err := parseOption(i, e)
		if err != nil {
			return nil, err
		}
		if j, dup := seen[o.keyword]; dup {
			return nil, fmt.Errorf("%s: %s is already set by redshift_copy.options[%d]", o.path(), o.keyword, j)
		}
		seen[o.keyword] = i
		out = append(out, o)
	}
	return out, nil
}

func parseOption(index int, entry string) (option, error) {
	o := option{index: index, raw: entry}
	path := o.path()
	toks, err := tokenize(entry)
	if err != nil {
		return o, fmt.Errorf("%s: %q: %w", path, entry, err)
	}
	if len(toks) == 0 {
		return o, fmt.Errorf("%s: empty option", path)
	}
	if toks[0].quoted {
		return o, fmt.Errorf("%s: %q must start with an option keyword such as IGNOREHEADER", path, entry)
	}
	o.keyword = strings.ToUpper(toks[0].text)
	spec, ok := knownOptions[o.keyword]
	if !ok {
		return o, fmt.Errorf("%s: unknown COPY option %s in %q; known options: %s", path, o.keyword, entry, strings.Join(KnownOptions(), ", "))
	}
	o.spec = spec
	rest := toks[1:]
	if len(rest) > 0 && !rest[0].quoted && strings.EqualFold(rest[0].text, "AS") && spec.arg != argNone {
		rest = rest[1:]
	}
	if len(rest) > 1 {
		return o, fmt.Errorf("%s: %q holds more than one option; give each option its own entry", path, entry)
	}
	var val *token
	if len(rest) == 1 {
		val = &rest[0]
	}
	switch spec.arg {
	case argNone:
		if val != nil {
			return o, fmt.Errorf("%s: %s takes no value, got %q", path, o.keyword, entry)
		}
	case argInt:
		if val == nil || val.quoted {
			return o, fmt.Errorf("%s: %s needs a number, e.g. %s 1", path, o.keyword, o.keyword)
		}
		n, err := strconv.Atoi(val.text)
		if err != nil || n < 0 {
			return o, fmt.Errorf("%s: %s needs a non-negative whole number, got %q", path, o.keyword, val.text)
		}
		o.value, o.hasValue = strconv.Itoa(n), true
	case argLiteral, argOptLiteral:
		if val == nil && spec.arg == argOptLiteral {
			break
		}
		if val == nil || !val.quoted {
			return o, fmt.Errorf("%s: %s needs a quoted value, e.g. %s 'auto'", path, o.keyword, o.keyword)
		}
		o.value, o.hasValue = val.text, true
	case argWord:
		w := ""
		if val != nil {
			if val.quoted {
				return o, fmt.Errorf("%s: %s takes a bare word, not a quoted value", path, o.keyword)
			}
			w = strings.ToUpper(val.text)
		}
		if !slices.Contains(spec.words, w) {
			return o, fmt.Errorf("%s: %s value %q is not one of %s", path, o.keyword, w, strings.Join(nonEmpty(spec.words), ", "))
		}
		o.value, o.hasValue = w, w != ""
	}
	return o, nil
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// token is a bare word or a single-quoted literal (quotes removed, ” undoubled).
type token struct {
	text   string
	quoted bool
}

func tokenize(s string) ([]token, error) {
	var toks []token
	r := []rune(s)
	for i := 0; i < len(r); {
		switch c := r[i]; {
		case unicode.IsSpace(c):
			i++
		case c == '\'':
			var b strings.Builder
			i++
			closed := false
			for i < len(r) {
				if r[i] == '\'' {
					if i+1 < len(r) && r[i+1] == '\'' {
						b.WriteRune('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteRune(r[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted value")
			}
			toks = append(toks, token{text: b.String(), quoted: true})
		case unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_':
			j := i
			for j < len(r) && (unicode.IsLetter(r[j]) || unicode.IsDigit(r[j]) || r[j] == '_') {
				j++
			}
			toks = append(toks, token{text: string(r[i:j])})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q: values other than numbers and words must be single-quoted", c)
		}
	}
	return toks, nil
}

// pgCopy is how a PostgreSQL load reads the files: the WITH options of COPY … FROM STDIN and the
// work the runner does itself.
type pgCopy struct {
	// with is the parenthesised option list of COPY … FROM STDIN WITH (…).
	with string
	// skipLines is IGNOREHEADER: lines skipped at the start of every file (PostgreSQL's HEADER
	// skips exactly one, Redshift's IGNOREHEADER any number).
	skipLines int
	// gzip and bzip2 decompress every file, not only those named *.gz / *.bz2.
	gzip, bzip2 bool
	// notes are said once in the attempt log: options accepted but without effect.
	notes []string
	// delimiter, quote and null are the csv options' values, for loads that parse the files
	// themselves (MySQL); zero means the CSV default.
	delimiter, quote byte
	null             *string
	// text is format text: the runner parses the delimited text (with escape and
	// removeQuotes) and streams CSV.
	text, escape, removeQuotes bool
}

// planPostgres translates the options of a csv or json load for PostgreSQL. Every error is a
// mistake in the definition; the caller marks it Permanent.
func planPostgres(format string, opts []option) (*pgCopy, error) {
	switch format {
	case definition.FormatCSV, definition.FormatJSON, definition.FormatText:
	case definition.FormatParquet:
		return nil, fmt.Errorf("redshift_copy.format: parquet needs a Redshift connection (COPY … FORMAT AS PARQUET); PostgreSQL cannot read Parquet")
	default:
		return nil, fmt.Errorf("redshift_copy.format: %q is not one of %s", format, strings.Join(definition.CopyFormats(), ", "))
	}
	pc := &pgCopy{text: format == definition.FormatText}
	// The JSON path writes CSV with the defaults below itself; csv options do not apply to it.
	with := []string{"FORMAT csv"}
	lit := redshift.PostgreSQL.QuoteLiteral
	for _, o := range opts {
		switch o.spec.pg {
		case pgRefused:
			return nil, fmt.Errorf("%s: COPY option %s is supported on Redshift only, not when loading into PostgreSQL", o.path(), o.keyword)
		case pgIgnored:
			if !strings.EqualFold(o.value, "auto") {
				return nil, fmt.Errorf("%s: %s %s is supported on Redshift only; on PostgreSQL only %s 'auto' is accepted (PostgreSQL reads ISO 8601 itself)", o.path(), o.keyword, lit(o.value), o.keyword)
			}
			pc.notes = append(pc.notes, fmt.Sprintf("%s 'auto' has no effect on PostgreSQL, which parses ISO 8601 dates and times itself", o.keyword))
			continue
		}
		csvOnly := func() error {
			if format != definition.FormatCSV && format != definition.FormatText {
				return fmt.Errorf("%s: %s applies to formats csv and text only, not %s", o.path(), o.keyword, format)
			}
			return nil
		}
		switch o.keyword {
		case "ESCAPE", "REMOVEQUOTES":
			if format != definition.FormatText {
				return nil, fmt.Errorf("%s: %s applies to format text only, not %s", o.path(), o.keyword, format)
			}
			pc.escape = pc.escape || o.keyword == "ESCAPE"
			pc.removeQuotes = pc.removeQuotes || o.keyword == "REMOVEQUOTES"
		case "GZIP":
			pc.gzip = true
		case "BZIP2":
			pc.bzip2 = true
		case "IGNOREHEADER":
			if err := csvOnly(); err != nil {
				return nil, err
			}
			pc.skipLines, _ = strconv.Atoi(o.value)
		case "DELIMITER", "QUOTE":
			if err := csvOnly(); err != nil {
				return nil, err
			}
			if len(o.value) != 1 {
				return nil, fmt.Errorf("%s: %s must be a single one-byte character, got %s", o.path(), o.keyword, lit(o.value))
			}
			if o.keyword == "QUOTE" && format == definition.FormatText {
				return nil, fmt.Errorf("%s: QUOTE applies to format csv only; text has REMOVEQUOTES", o.path())
			}
			if !pc.text {
				with = append(with, o.keyword+" "+lit(o.value))
			}
			if o.keyword == "DELIMITER" {
				pc.delimiter = o.value[0]
			} else {
				pc.quote = o.value[0]
			}
		case "NULL":
			if err := csvOnly(); err != nil {
				return nil, err
			}
			if !pc.text {
				with = append(with, "NULL "+lit(o.value))
			}
			v := o.value
			pc.null = &v
		}
	}
	pc.with = strings.Join(with, ", ")
	return pc, nil
}
