package redshift

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Distribution styles (Redshift DISTSTYLE).
const (
	DistAuto = "AUTO"
	DistEven = "EVEN"
	DistKey  = "KEY"
	DistAll  = "ALL"
)

// DistStyles lists the distribution styles, for validators and docs.
func DistStyles() []string { return []string{DistAuto, DistEven, DistKey, DistAll} }

// Sort styles (Redshift [COMPOUND | INTERLEAVED] SORTKEY).
const (
	SortCompound    = "COMPOUND"
	SortInterleaved = "INTERLEAVED"
)

// SortStyles lists the sort key styles, for validators and docs.
func SortStyles() []string { return []string{SortCompound, SortInterleaved} }

// Column compression encodings (Redshift ENCODE).
const (
	EncodeRaw       = "RAW"
	EncodeAZ64      = "AZ64"
	EncodeBytedict  = "BYTEDICT"
	EncodeDelta     = "DELTA"
	EncodeDelta32K  = "DELTA32K"
	EncodeLZO       = "LZO"
	EncodeMostly8   = "MOSTLY8"
	EncodeMostly16  = "MOSTLY16"
	EncodeMostly32  = "MOSTLY32"
	EncodeRunlength = "RUNLENGTH"
	EncodeText255   = "TEXT255"
	EncodeText32K   = "TEXT32K"
	EncodeZSTD      = "ZSTD"
)

// Encodings lists the column compression encodings, for validators and docs.
func Encodings() []string {
	return []string{EncodeRaw, EncodeAZ64, EncodeBytedict, EncodeDelta, EncodeDelta32K, EncodeLZO, EncodeMostly8,
		EncodeMostly16, EncodeMostly32, EncodeRunlength, EncodeText255, EncodeText32K, EncodeZSTD}
}

// Column is one column of a table as declared.
type Column struct {
	Name string
	// Type is a SQL type name as the user writes it ("varchar(32)", "bigint"); compare with
	// Dialect.SameType, never with ==.
	Type     string
	Nullable bool
	// Default is a SQL expression written by the user ("0", "'n/a'", "getdate()"), not a
	// literal; "" means no default. Compare with SameDefault.
	Default string
	// Encode is the Redshift compression encoding; "" lets Redshift choose (ENCODE AUTO).
	// Recorded, not applied, on PostgreSQL.
	Encode  string
	Comment string
}

// Table is a table as declared. DistStyle, DistKey, SortStyle, SortKeys, Backup and the columns'
// Encode are Redshift physical attributes: on PostgreSQL they are accepted and recorded but not
// applied (PostgreSQL has no such thing), so a configuration written for Redshift plans the same
// on the local database.
type Table struct {
	Schema, Name string
	// Owner "" keeps the default owner (the user that creates the table).
	Owner      string
	Columns    []Column
	PrimaryKey []string
	DistStyle  string
	DistKey    string
	SortStyle  string
	SortKeys   []string
	Backup     bool
	// Description is the table comment.
	Description string
}

// TableKey names a table.
type TableKey struct{ Schema, Name string }

func (k TableKey) String() string { return QuoteQualified(k.Schema, k.Name) }

// Key is the table's name.
func (t Table) Key() TableKey { return TableKey{Schema: t.Schema, Name: t.Name} }

// Column returns the column called name, or nil.
func (t Table) Column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// TableState is a table as the catalog reports it.
type TableState struct {
	Table
	// PrimaryKeyName is the name of the primary key constraint, "" without one.
	PrimaryKeyName string
}

// Problem is one thing wrong with a declared table, located for a diagnostic: Attribute is the
// top-level attribute ("columns", "primary_key", "dist_key", ...), Index the list element (-1 for
// none) and Field the attribute inside a column ("" for none).
type Problem struct {
	Attribute string
	Index     int
	Field     string
	Message   string
}

func (p Problem) Error() string {
	loc := p.Attribute
	if p.Index >= 0 {
		loc += "[" + strconv.Itoa(p.Index) + "]"
	}
	if p.Field != "" {
		loc += "." + p.Field
	}
	return loc + ": " + p.Message
}

// typeRE is the shape of a type name: a word (two for character varying, double precision, bit
// varying), an optional (n), (p,s) or (max), optional "with[out] time zone", optional []. Types
// reach SQL unquoted, so anything else is refused.
var typeRE = regexp.MustCompile(`(?i)^[a-z_][a-z0-9_]*(\s+(varying|precision))?\s*(\(\s*(\d+\s*(,\s*\d+\s*)?|max)\))?(\s+(with|without)\s+time\s+zone)?(\[\])*$`)

// ValidateType checks that a type name is a plain SQL type name.
func ValidateType(t string) error {
	if !typeRE.MatchString(strings.TrimSpace(t)) {
		return fmt.Errorf("%q is not a SQL type name; write a type such as bigint, varchar(64), numeric(12,2) or timestamp", t)
	}
	return nil
}

// ValidateDefault checks that a default is one SQL expression: quotes and parentheses balanced,
// no statement separator or comment outside quotes. It is SQL the user wrote and reaches the
// database as written; this check keeps it from ending the statement it is part of.
func ValidateDefault(expr string) error {
	depth := 0
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; c {
		case '\'', '"':
			j := closingQuote(expr, i)
			if j < 0 {
				return fmt.Errorf("default %q has an unterminated %c quote", expr, c)
			}
			i = j
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return fmt.Errorf("default %q has an unbalanced )", expr)
			}
		case ';':
			return fmt.Errorf("default %q contains ; outside quotes: a default is one SQL expression, not statements", expr)
		case '-', '/':
			if i+1 < len(expr) && ((c == '-' && expr[i+1] == '-') || (c == '/' && expr[i+1] == '*')) {
				return fmt.Errorf("default %q contains a SQL comment", expr)
			}
		}
	}
	if depth != 0 {
		return fmt.Errorf("default %q has an unbalanced (", expr)
	}
	return nil
}

// closingQuote returns the index of the quote closing the one at i (doubled quotes are part of
// the string), or -1.
func closingQuote(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		if s[j] == q {
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j
		}
	}
	return -1
}

// Problems checks a declared table: columns present, names unique and valid, types and defaults
// well formed, enum values known, and primary_key, dist_key and sort_keys naming declared
// columns. It needs no database, so the provider reports these at plan time.
func (d Dialect) Problems(t Table) []Problem {
	var out []Problem
	add := func(attr string, idx int, field, format string, args ...any) {
		out = append(out, Problem{Attribute: attr, Index: idx, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if len(t.Columns) == 0 {
		add("columns", -1, "", "a table needs at least one column")
	}
	seen := map[string]int{}
	for i, c := range t.Columns {
		if err := d.ValidateIdent(c.Name); err != nil {
			add("columns", i, "name", "%v", err)
		}
		if j, dup := seen[c.Name]; dup {
			add("columns", i, "name", "column %s is declared twice (columns[%d] and columns[%d]); column names must be unique", QuoteIdent(c.Name), j, i)
		} else {
			seen[c.Name] = i
		}
		if err := ValidateType(c.Type); err != nil {
			add("columns", i, "type", "%v", err)
		}
		if c.Default != "" {
			if err := ValidateDefault(c.Default); err != nil {
				add("columns", i, "default", "%v", err)
			}
		}
		if c.Encode != "" && !slices.Contains(Encodings(), c.Encode) {
			add("columns", i, "encode", "%q is not an encoding; use one of %s", c.Encode, strings.Join(Encodings(), ", "))
		}
	}
	known := func(attr string, idx int, name string) bool {
		if _, ok := seen[name]; !ok {
			add(attr, idx, "", "%s is not a declared column; declare it in columns or use one of %s", QuoteIdent(name), QuoteIdentList(columnNames(t.Columns)))
			return false
		}
		return true
	}
	pkSeen := map[string]bool{}
	for i, n := range t.PrimaryKey {
		if pkSeen[n] {
			add("primary_key", i, "", "column %s is listed twice", QuoteIdent(n))
		}
		pkSeen[n] = true
		if known("primary_key", i, n) {
			if c := t.Column(n); c.Nullable {
				add("columns", seen[n], "nullable", "column %s is in the primary key, so it cannot be nullable; set nullable = false", QuoteIdent(n))
			}
		}
	}
	if t.DistStyle != "" && !slices.Contains(DistStyles(), t.DistStyle) {
		add("dist_style", -1, "", "%q is not a distribution style; use one of %s", t.DistStyle, strings.Join(DistStyles(), ", "))
	}
	switch {
	case t.DistKey != "" && t.DistStyle != DistKey:
		add("dist_key", -1, "", "dist_key is set, but dist_style is %q; set dist_style = %q to distribute on %s, or remove dist_key", t.DistStyle, DistKey, QuoteIdent(t.DistKey))
	case t.DistKey == "" && t.DistStyle == DistKey:
		add("dist_key", -1, "", "dist_style = %q needs dist_key, the column rows are distributed on", DistKey)
	case t.DistKey != "":
		known("dist_key", -1, t.DistKey)
	}
	if t.SortStyle != "" && !slices.Contains(SortStyles(), t.SortStyle) {
		add("sort_style", -1, "", "%q is not a sort style; use one of %s", t.SortStyle, strings.Join(SortStyles(), ", "))
	}
	sortSeen := map[string]bool{}
	for i, n := range t.SortKeys {
		if sortSeen[n] {
			add("sort_keys", i, "", "column %s is listed twice", QuoteIdent(n))
		}
		sortSeen[n] = true
		known("sort_keys", i, n)
	}
	return out
}

func columnNames(cs []Column) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// --- type names ---

var (
	spaceRE   = regexp.MustCompile(`\s+`)
	parenRE   = regexp.MustCompile(`\s*\(\s*`)
	commaRE   = regexp.MustCompile(`\s*,\s*`)
	closeRE   = regexp.MustCompile(`\s*\)`)
	typeArgRE = regexp.MustCompile(`^([a-z0-9_ ]+?)(\(([^)]*)\))?( (with|without) time zone)?$`)
)

// typeAliases maps a type name (without its arguments) to the name format_type reports.
var typeAliases = map[string]string{
	"int": "integer", "int4": "integer", "integer": "integer",
	"bigint": "bigint", "int8": "bigint",
	"smallint": "smallint", "int2": "smallint",
	"varchar": "character varying", "character varying": "character varying", "nvarchar": "character varying",
	"char": "character", "character": "character", "bpchar": "character", "nchar": "character",
	"text": "text",
	"bool": "boolean", "boolean": "boolean",
	"timestamp": "timestamp", "timestamptz": "timestamptz",
	"time": "time", "timetz": "timetz",
	"numeric": "numeric", "decimal": "numeric",
	"double precision": "double precision", "float8": "double precision", "float": "double precision",
	"real": "real", "float4": "real",
	"date": "date",
}

// NormaliseType returns the canonical spelling of a type name: lower case, aliases resolved
// to the names format_type reports (int4 → integer, varchar(n) → character varying(n),
// timestamptz → timestamp with time zone, decimal(p,s) → numeric(p,s), ...). On Redshift the
// defaults Redshift fills in are made explicit (text and varchar are varchar(256), char is
// char(1), numeric is numeric(18,0)). Unknown names are kept, lower-cased.
func (d Dialect) NormaliseType(t string) string {
	s := strings.ToLower(strings.TrimSpace(t))
	s = spaceRE.ReplaceAllString(s, " ")
	s = parenRE.ReplaceAllString(s, "(")
	s = commaRE.ReplaceAllString(s, ",")
	s = closeRE.ReplaceAllString(s, ")")
	arrays := ""
	for strings.HasSuffix(s, "[]") {
		arrays += "[]"
		s = strings.TrimSuffix(s, "[]")
	}
	m := typeArgRE.FindStringSubmatch(s)
	if m == nil {
		return s + arrays
	}
	name, args, zone := strings.TrimSpace(m[1]), m[3], m[4]
	if n, ok := typeAliases[name]; ok {
		name = n
	}
	switch name {
	case "timestamptz":
		name, zone = "timestamp", " with time zone"
	case "timetz":
		name, zone = "time", " with time zone"
	}
	if (name == "timestamp" || name == "time") && zone == "" {
		zone = " without time zone"
	}
	switch {
	case name == "numeric" && args != "" && !strings.Contains(args, ","):
		args += ",0"
	case name == "character" && args == "":
		args = "1"
	case d == Redshift && name == "text":
		name, args = "character varying", "256"
	case d == Redshift && name == "character varying" && args == "":
		args = "256"
	case d == Redshift && name == "numeric" && args == "":
		args = "18,0"
	}
	if d == Redshift && args == "max" && name == "character varying" {
		args = "65535"
	}
	out := name
	if args != "" {
		out += "(" + args + ")"
	}
	return out + zone + arrays
}

// SameType reports whether two type names mean the same type in the dialect.
func (d Dialect) SameType(a, b string) bool { return d.NormaliseType(a) == d.NormaliseType(b) }

var varcharRE = regexp.MustCompile(`^character varying\((\d+)\)$`)

// varcharLength returns n for character varying(n).
func (d Dialect) varcharLength(t string) (int, bool) {
	m := varcharRE.FindStringSubmatch(d.NormaliseType(t))
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// --- defaults ---

// literalCastRE matches the cast PostgreSQL and Redshift print after a string literal in a
// default: 'x'::text, '2024-01-01'::date, 'a'::character varying(10), 'seq'::regclass.
var literalCastRE = regexp.MustCompile(`(?i)^::\s*(character varying|double precision|timestamp(\(\d+\))? with(out)? time zone|time(\(\d+\))? with(out)? time zone|"(?:[^"]|"")*"|[a-z_][a-z0-9_]*)(\(\s*\d+(\s*,\s*\d+)?\s*\))?(\[\])*`)

// NormaliseDefault is the comparison form of a default expression: outside quotes it is lower
// case and spaces are collapsed, and the cast the database prints after a string literal is
// removed ('x'::text → 'x'). Only casts of literals go: now()::date stays distinct from now().
func NormaliseDefault(expr string) string {
	var b strings.Builder
	s := strings.TrimSpace(expr)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			j := closingQuote(s, i)
			if j < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			b.WriteString(s[i : j+1])
			i = j
			if c == '\'' {
				if m := literalCastRE.FindString(s[j+1:]); m != "" {
					i += len(m)
				}
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			for i+1 < len(s) && strings.ContainsRune(" \t\n\r", rune(s[i+1])) {
				i++
			}
			b.WriteByte(' ')
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// SameDefault reports whether two default expressions are the same once the database's
// spelling is allowed for (see NormaliseDefault).
func SameDefault(a, b string) bool { return NormaliseDefault(a) == NormaliseDefault(b) }

// DefaultForm remembers, for one column, the default as configured and the expression the
// database reported for it right after sluice set it.
type DefaultForm struct {
	Configured string `json:"configured"`
	Database   string `json:"database"`
}

// DefaultForms are the DefaultForm of each column with a default, by column name.
//
// Why: a default is SQL the database rewrites ('x' reads back as 'x'::text, CURRENT_DATE as
// ('now'::text)::date on some versions), and that rewrite cannot be predicted at plan time. So
// after each apply sluice records which database form its configured expression produced. On
// read, a database form equal to the recorded one means "unchanged": the configured string stays
// in state and the plan is empty. Any other database form — a change made by hand — goes into
// state as read, and the plan shows it against the configuration. Without a record (after an
// import) the forms are compared with SameDefault instead.
type DefaultForms map[string]DefaultForm

// RecordDefaults pairs each declared default with what the database reports after an apply.
func RecordDefaults(declared Table, db TableState) DefaultForms {
	out := DefaultForms{}
	for _, c := range declared.Columns {
		if c.Default == "" {
			continue
		}
		if dc := db.Column(c.Name); dc != nil {
			out[c.Name] = DefaultForm{Configured: c.Default, Database: dc.Default}
		}
	}
	return out
}

// ReadBack turns what the catalog reports into the declared form that goes into Terraform state.
// declared is the prior declaration (state or plan; column values may be missing for new or
// imported columns). Columns come in the database's order with the database's values, except
// where the database only spells the declared value differently: a type name that SameType
// matches and a default the DefaultForms (or SameDefault) match keep the declared spelling. On
// PostgreSQL the Redshift-only attributes are not in the catalog and keep their declared values.
func (d Dialect) ReadBack(declared Table, db TableState, forms DefaultForms) Table {
	out := db.Table
	out.Columns = make([]Column, len(db.Columns))
	for i, c := range db.Columns {
		dc := declared.Column(c.Name)
		if dc != nil && d.SameType(dc.Type, c.Type) {
			c.Type = dc.Type
		}
		if c.Default != "" && dc != nil {
			if f, ok := forms[c.Name]; ok {
				if f.Database == c.Default && f.Configured == dc.Default {
					c.Default = dc.Default
				}
			} else if SameDefault(dc.Default, c.Default) {
				c.Default = dc.Default
			}
		}
		if d != Redshift {
			c.Encode = ""
			if dc != nil {
				c.Encode = dc.Encode
			}
		}
		out.Columns[i] = c
	}
	if d != Redshift {
		out.DistStyle, out.DistKey = declared.DistStyle, declared.DistKey
		out.SortStyle, out.SortKeys = declared.SortStyle, slices.Clone(declared.SortKeys)
		out.Backup = declared.Backup
		return out
	}
	// Redshift: AUTO distribution picks its own key, and a style is meaningless without keys.
	if out.DistStyle == DistAuto {
		out.DistKey = declared.DistKey
	}
	if len(out.SortKeys) == 0 {
		out.SortStyle = declared.SortStyle
	}
	return out
}

// --- changes ---

// Replacement is one difference that cannot be made in place: the table has to be dropped and
// created again. Column is "" for a table attribute.
type Replacement struct {
	Attribute string
	Column    string
	Reason    string
}

// ReplaceReasons lists the differences between cur and want that the dialect cannot change in
// place. Types follow Redshift on both dialects (only widening a VARCHAR is in place), so plans
// made against the local PostgreSQL predict plans against Redshift; defaults and nullability
// change in place on PostgreSQL only.
func (d Dialect) ReplaceReasons(cur, want Table) []Replacement {
	var out []Replacement
	add := func(attr, col, format string, args ...any) {
		out = append(out, Replacement{Attribute: attr, Column: col, Reason: fmt.Sprintf(format, args...)})
	}
	if d == Redshift && cur.Schema != want.Schema {
		add("schema", "", "moving table %s to schema %s: Redshift cannot move a table between schemas", cur.Key(), QuoteIdent(want.Schema))
	}
	// Existing columns must keep their order and new ones come last: no database reorders
	// columns in place.
	var kept []string
	for _, c := range want.Columns {
		if cur.Column(c.Name) != nil {
			kept = append(kept, c.Name)
		}
	}
	var curKept []string
	for _, c := range cur.Columns {
		if want.Column(c.Name) != nil {
			curKept = append(curKept, c.Name)
		}
	}
	if !slices.Equal(kept, curKept) {
		add("columns", "", "the columns change order (%s → %s): columns cannot be reordered in place", QuoteIdentList(curKept), QuoteIdentList(kept))
	} else {
		added := false
		for _, c := range want.Columns {
			if cur.Column(c.Name) == nil {
				added = true
			} else if added {
				add("columns", "", "a new column is declared before existing column %s: new columns can only be added after the existing ones", QuoteIdent(c.Name))
				break
			}
		}
	}
	for _, w := range want.Columns {
		c := cur.Column(w.Name)
		if c == nil {
			continue
		}
		if !d.SameType(c.Type, w.Type) {
			cn, cok := d.varcharLength(c.Type)
			wn, wok := d.varcharLength(w.Type)
			if !cok || !wok || wn < cn {
				add("type", w.Name, "column %s type %s -> %s cannot be changed in place on Redshift (only a VARCHAR can be made longer)", QuoteIdent(w.Name), c.Type, w.Type)
			}
		}
		if d == Redshift && c.Nullable != w.Nullable {
			add("nullable", w.Name, "column %s nullable %t -> %t: Redshift cannot ALTER COLUMN SET/DROP NOT NULL", QuoteIdent(w.Name), c.Nullable, w.Nullable)
		}
		if d == Redshift && !SameDefault(c.Default, w.Default) {
			add("default", w.Name, "column %s default %s -> %s: Redshift cannot ALTER COLUMN SET DEFAULT", QuoteIdent(w.Name), orNone(c.Default), orNone(w.Default))
		}
	}
	if d == Redshift {
		if cur.Backup != want.Backup {
			add("backup", "", "backup %t -> %t: Redshift cannot change BACKUP in place", cur.Backup, want.Backup)
		}
		interleaved := cur.SortStyle == SortInterleaved && len(cur.SortKeys) > 0 || want.SortStyle == SortInterleaved && len(want.SortKeys) > 0
		if interleaved && (cur.SortStyle != want.SortStyle || !slices.Equal(cur.SortKeys, want.SortKeys)) {
			add("sort_keys", "", "interleaved sort key (%s %s) -> (%s %s): Redshift cannot alter an interleaved sort key in place",
				cur.SortStyle, QuoteIdentList(cur.SortKeys), want.SortStyle, QuoteIdentList(want.SortKeys))
		}
	}
	return out
}

func orNone(expr string) string {
	if expr == "" {
		return "(none)"
	}
	return expr
}

// columnSQL is a column definition for CREATE TABLE and ADD COLUMN.
func (d Dialect) columnSQL(c Column) string {
	s := QuoteIdent(c.Name) + " " + strings.TrimSpace(c.Type)
	if c.Default != "" {
		s += " DEFAULT " + c.Default
	}
	if d == Redshift && c.Encode != "" {
		s += " ENCODE " + c.Encode
	}
	if !c.Nullable {
		s += " NOT NULL"
	}
	return s
}

// CreateTableSQL returns the statements that create a table with its owner and comments. On
// Redshift the table attributes follow the column list: BACKUP NO, DISTSTYLE, DISTKEY, SORTKEY;
// PostgreSQL has none of them and gets none.
func (d Dialect) CreateTableSQL(t Table) []string {
	name := QuoteQualified(t.Schema, t.Name)
	defs := make([]string, 0, len(t.Columns)+1)
	for _, c := range t.Columns {
		defs = append(defs, d.columnSQL(c))
	}
	if len(t.PrimaryKey) > 0 {
		defs = append(defs, "PRIMARY KEY ("+QuoteIdentList(t.PrimaryKey)+")")
	}
	stmt := "CREATE TABLE " + name + " (" + strings.Join(defs, ", ") + ")"
	if d == Redshift {
		if !t.Backup {
			stmt += " BACKUP NO"
		}
		if t.DistStyle != "" {
			stmt += " DISTSTYLE " + t.DistStyle
		}
		if t.DistKey != "" {
			stmt += " DISTKEY (" + QuoteIdent(t.DistKey) + ")"
		}
		if len(t.SortKeys) > 0 {
			style := t.SortStyle
			if style == "" {
				style = SortCompound
			}
			stmt += " " + style + " SORTKEY (" + QuoteIdentList(t.SortKeys) + ")"
		}
	}
	out := []string{stmt}
	if t.Owner != "" {
		out = append(out, "ALTER TABLE "+name+" OWNER TO "+QuoteIdent(t.Owner))
	}
	if t.Description != "" {
		out = append(out, "COMMENT ON TABLE "+name+" IS "+d.QuoteLiteral(t.Description))
	}
	for _, c := range t.Columns {
		if c.Comment != "" {
			out = append(out, "COMMENT ON COLUMN "+name+"."+QuoteIdent(c.Name)+" IS "+d.QuoteLiteral(c.Comment))
		}
	}
	return out
}

func (d Dialect) commentLiteral(s string) string {
	if s == "" {
		return "NULL"
	}
	return d.QuoteLiteral(s)
}

// ErrNeedsReplacement is wrapped when a change cannot be made in place.
var ErrNeedsReplacement = errors.New("needs replacement")

// AlterTableSQL returns the statements that turn table cur into want in place, each only when
// it differs: rename, schema (PostgreSQL), owner, primary key, dropped and added columns, column
// type (VARCHAR widening), nullability and default (PostgreSQL), encoding (Redshift), comments,
// distribution and compound sort key (Redshift). Differences ReplaceReasons reports are not in
// it; check those first.
func (d Dialect) AlterTableSQL(cur TableState, want Table) []string {
	var out []string
	name := QuoteQualified(cur.Schema, cur.Name)
	if want.Name != cur.Name {
		out = append(out, "ALTER TABLE "+name+" RENAME TO "+QuoteIdent(want.Name))
		name = QuoteQualified(cur.Schema, want.Name)
	}
	if want.Schema != cur.Schema && d != Redshift {
		out = append(out, "ALTER TABLE "+name+" SET SCHEMA "+QuoteIdent(want.Schema))
	}
	name = QuoteQualified(want.Schema, want.Name)
	alter := func(clause string) { out = append(out, "ALTER TABLE "+name+" "+clause) }
	if want.Owner != "" && want.Owner != cur.Owner {
		alter("OWNER TO " + QuoteIdent(want.Owner))
	}
	pkChanged := !slices.Equal(cur.PrimaryKey, want.PrimaryKey)
	if pkChanged && cur.PrimaryKeyName != "" {
		alter("DROP CONSTRAINT " + QuoteIdent(cur.PrimaryKeyName))
	}
	for _, c := range cur.Columns {
		if want.Column(c.Name) == nil {
			alter("DROP COLUMN " + QuoteIdent(c.Name))
		}
	}
	for _, w := range want.Columns {
		c := cur.Column(w.Name)
		col := QuoteIdent(w.Name)
		if c == nil {
			alter("ADD COLUMN " + d.columnSQL(w))
			if w.Comment != "" {
				out = append(out, "COMMENT ON COLUMN "+name+"."+col+" IS "+d.QuoteLiteral(w.Comment))
			}
			continue
		}
		if !d.SameType(c.Type, w.Type) {
			alter("ALTER COLUMN " + col + " TYPE " + strings.TrimSpace(w.Type))
		}
		if d != Redshift && c.Nullable != w.Nullable {
			if w.Nullable {
				alter("ALTER COLUMN " + col + " DROP NOT NULL")
			} else {
				alter("ALTER COLUMN " + col + " SET NOT NULL")
			}
		}
		if d != Redshift && !SameDefault(c.Default, w.Default) {
			if w.Default == "" {
				alter("ALTER COLUMN " + col + " DROP DEFAULT")
			} else {
				alter("ALTER COLUMN " + col + " SET DEFAULT " + w.Default)
			}
		}
		if d == Redshift && w.Encode != "" && w.Encode != c.Encode {
			alter("ALTER COLUMN " + col + " ENCODE " + w.Encode)
		}
		if w.Comment != c.Comment {
			out = append(out, "COMMENT ON COLUMN "+name+"."+col+" IS "+d.commentLiteral(w.Comment))
		}
	}
	if pkChanged && len(want.PrimaryKey) > 0 {
		alter("ADD PRIMARY KEY (" + QuoteIdentList(want.PrimaryKey) + ")")
	}
	if d == Redshift {
		if want.DistStyle != cur.DistStyle || want.DistKey != cur.DistKey {
			if want.DistStyle == DistKey {
				alter("ALTER DISTSTYLE KEY DISTKEY " + QuoteIdent(want.DistKey))
			} else if want.DistStyle != "" {
				alter("ALTER DISTSTYLE " + want.DistStyle)
			}
		}
		if !slices.Equal(cur.SortKeys, want.SortKeys) && want.SortStyle != SortInterleaved {
			if len(want.SortKeys) == 0 {
				alter("ALTER SORTKEY NONE")
			} else {
				alter("ALTER COMPOUND SORTKEY (" + QuoteIdentList(want.SortKeys) + ")")
			}
		}
	}
	if want.Description != cur.Description {
		out = append(out, "COMMENT ON TABLE "+name+" IS "+d.commentLiteral(want.Description))
	}
	return out
}

// DropTableSQL drops a table.
func (d Dialect) DropTableSQL(k TableKey) string { return "DROP TABLE " + k.String() }

// CountRowsSQL counts a table's rows, for the data-loss check.
func (d Dialect) CountRowsSQL(k TableKey) string { return "SELECT count(*)::text FROM " + k.String() }
