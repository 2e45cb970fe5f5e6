package load

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

// stagingTable is the temporary table every load goes through. Temporary tables are private to
// the session and the load's transaction creates and drops it, so one fixed name serves every
// load; being temporary, it is found before any permanent table of that name.
const stagingTable = "sluice_staging"

// target is the table being loaded: its name as given (for messages) and as PostgreSQL and
// Redshift store an unquoted identifier (lower case).
type target struct {
	schema, table string
}

func (t target) String() string { return t.schema + "." + t.table }

func (t target) quoted() string { return redshift.QuoteQualified(t.schema, t.table) }

// parseTarget reads redshift_copy.table, schema.table with unquoted identifiers. PostgreSQL and
// Redshift fold unquoted identifiers to lower case, so "Web.Page_Views" is web.page_views.
func parseTarget(s string, d redshift.Dialect) (target, error) {
	schema, table, ok := strings.Cut(s, ".")
	if !ok || strings.Contains(table, ".") {
		return target{}, fmt.Errorf("redshift_copy.table: %q must be schema.table, such as \"web.page_views\"", s)
	}
	t := target{schema: strings.ToLower(schema), table: strings.ToLower(table)}
	for _, n := range []string{t.schema, t.table} {
		if err := d.ValidateIdent(n); err != nil {
			return target{}, fmt.Errorf("redshift_copy.table: %q: %w", s, err)
		}
	}
	return t, nil
}

// columnsQuery lists the columns a load writes, in table order. PostgreSQL's generated columns
// cannot be written and are left out; Redshift's catalog has no is_generated column.
func columnsQuery(t target, d redshift.Dialect) string {
	q := "SELECT column_name FROM information_schema.columns WHERE table_schema = " + d.QuoteLiteral(t.schema) +
		" AND table_name = " + d.QuoteLiteral(t.table)
	if d == redshift.PostgreSQL {
		q += " AND is_generated = 'NEVER'"
	}
	return q + " ORDER BY ordinal_position"
}

// createStagingSQL creates the staging table with the target's columns and NOT NULL constraints
// (LIKE copies no defaults: every column is loaded from the files). On Redshift the staging
// table also inherits the target's distribution and sort keys, which makes the merge local.
func createStagingSQL(t target) string {
	return "CREATE TEMPORARY TABLE " + redshift.QuoteIdent(stagingTable) + " (LIKE " + t.quoted() + ")"
}

// dropStagingSQL drops the staging table before the commit. PostgreSQL's ON COMMIT DROP would
// do, but Redshift lacks it and keeps a temporary table for the session — which, in a pool,
// outlives the load.
func dropStagingSQL() string { return "DROP TABLE " + redshift.QuoteIdent(stagingTable) }

// copyStdinSQL is the PostgreSQL COPY that streams one file into the staging table.
func copyStdinSQL(cols []string, with string) string {
	return "COPY " + redshift.QuoteIdent(stagingTable) + " (" + redshift.QuoteIdentList(cols) + ") FROM STDIN WITH (" + with + ")"
}

// redshiftCopySQL is the COPY that has Redshift read the files from S3 into the staging table.
// from is an object or a key prefix: Redshift loads every object whose key starts with it.
func redshiftCopySQL(from, format, iamRole string, opts []option) (string, error) {
	if strings.HasPrefix(from, DynamoDBScheme) {
		return dynamoDBCopySQL(from, iamRole, opts)
	}
	if !strings.HasPrefix(from, "s3://") {
		return "", fmt.Errorf("redshift_copy.from: %q: Redshift COPY reads from s3:// or dynamodb:// only; file:// locations load into PostgreSQL and MySQL connections only", from)
	}
	if iamRole == "" {
		return "", fmt.Errorf("redshift_copy.iam_role is required when loading into Redshift: the role Redshift assumes to read %s", from)
	}
	lit := redshift.Redshift.QuoteLiteral
	var b strings.Builder
	b.WriteString("COPY " + redshift.QuoteIdent(stagingTable) + " FROM " + lit(from) + " IAM_ROLE " + lit(iamRole))
	switch format {
	case definition.FormatCSV:
		b.WriteString(" FORMAT AS CSV")
	case definition.FormatText:
		// Delimited text is COPY's default format: no FORMAT clause.
	case definition.FormatJSON:
		b.WriteString(" FORMAT AS JSON 'auto'")
	case definition.FormatParquet:
		b.WriteString(" FORMAT AS PARQUET")
	default:
		return "", fmt.Errorf("redshift_copy.format: %q is not one of %s", format, strings.Join(definition.CopyFormats(), ", "))
	}
	gzip := false
	for _, o := range opts {
		b.WriteString(" " + o.sql())
		gzip = gzip || o.keyword == "GZIP"
	}
	// Redshift only gunzips when told; a single .gz object says so by its name. (A prefix may
	// mix compressed and plain objects, so there the user must say GZIP.)
	if !gzip && !strings.HasSuffix(from, "/") && strings.HasSuffix(strings.ToLower(from), ".gz") {
		b.WriteString(" GZIP")
	}
	return b.String(), nil
}

// mergeSQL moves the staging rows into the target according to the insert mode. Every mode but
// APPEND leaves the target the same when run twice with the same files.
//
// TRUNCATE is a DELETE: Redshift's TRUNCATE commits the open transaction, which would publish
// an empty table before the new rows, and PostgreSQL's takes an ACCESS EXCLUSIVE lock that
// blocks every reader until the commit. DELETE lets readers see the old rows until the new
// ones are committed.
func mergeSQL(mode string, t target, cols, keys []string) (deleteSQL, insertSQL string, err error) {
	tq, sq := t.quoted(), redshift.QuoteIdent(stagingTable)
	colList := redshift.QuoteIdentList(cols)
	insert := "INSERT INTO " + tq + " (" + colList + ") SELECT " + colList + " FROM " + sq
	match := func(left, right string) string {
		conds := make([]string, len(keys))
		for i, k := range keys {
			conds[i] = left + "." + redshift.QuoteIdent(k) + " = " + right + "." + redshift.QuoteIdent(k)
		}
		return strings.Join(conds, " AND ")
	}
	switch mode {
	case definition.InsertTruncate:
		return "DELETE FROM " + tq, insert, nil
	case definition.InsertAppend:
		return "", insert, nil
	case definition.InsertKeepExisting:
		// The target is aliased in the subquery only; Redshift's DELETE has no alias, hence the
		// qualified names below.
		return "", insert + " WHERE NOT EXISTS (SELECT 1 FROM " + tq + " AS " + redshift.QuoteIdent("t") +
			" WHERE " + match(redshift.QuoteIdent("t"), sq) + ")", nil
	case definition.InsertOverwriteExisting:
		return "DELETE FROM " + tq + " USING " + sq + " WHERE " + match(tq, sq), insert, nil
	}
	return "", "", fmt.Errorf("redshift_copy.insert_mode: %q is not one of %s", mode, strings.Join(definition.InsertModes(), ", "))
}

// keyProblemSQL finds one key of the staging rows that is NULL or appears more than once. The
// key modes refuse both: a NULL key never matches (so a retry would insert the row again), and
// two rows with one key leave no way to know which the files meant — files have no order a
// COPY keeps.
func keyProblemSQL(keys []string) string {
	cast := make([]string, len(keys))
	nulls := make([]string, len(keys))
	for i, k := range keys {
		cast[i] = "CAST(" + redshift.QuoteIdent(k) + " AS VARCHAR(256))"
		nulls[i] = redshift.QuoteIdent(k) + " IS NULL"
	}
	qk := redshift.QuoteIdentList(keys)
	return "SELECT " + strings.Join(cast, ", ") + ", COUNT(*) FROM " + redshift.QuoteIdent(stagingTable) +
		" GROUP BY " + qk + " HAVING COUNT(*) > 1 OR " + strings.Join(nulls, " OR ") + " LIMIT 1"
}

// DynamoDBScheme starts a redshift_copy source that is a DynamoDB table: Redshift reads it
// itself, matching attributes to columns by name.
const DynamoDBScheme = "dynamodb://"

// dynamoDBOptions are the COPY options a DynamoDB source takes; READRATIO (the percentage of the
// table's provisioned read capacity COPY may use) is required, as Redshift requires it.
var dynamoDBOptions = []string{"READRATIO", "REGION", "TIMEFORMAT", "DATEFORMAT", "TRUNCATECOLUMNS", "BLANKSASNULL", "EMPTYASNULL",
	"ACCEPTANYDATE", "ACCEPTINVCHARS", "ROUNDEC", "TRIMBLANKS", "MAXERROR", "COMPUPDATE", "STATUPDATE", "EXPLICIT_IDS"}

// dynamoDBCopySQL is the COPY of a DynamoDB table into the staging table.
func dynamoDBCopySQL(from, iamRole string, opts []option) (string, error) {
	table := strings.TrimPrefix(from, DynamoDBScheme)
	if table == "" || strings.ContainsAny(table, "/'") {
		return "", fmt.Errorf("redshift_copy.from: %q is not dynamodb://TABLE_NAME", from)
	}
	if iamRole == "" {
		return "", fmt.Errorf("redshift_copy.iam_role is required when loading into Redshift: the role Redshift assumes to read DynamoDB table %s", table)
	}
	lit := redshift.Redshift.QuoteLiteral
	var b strings.Builder
	b.WriteString("COPY " + redshift.QuoteIdent(stagingTable) + " FROM " + lit(from) + " IAM_ROLE " + lit(iamRole))
	ratio := false
	for _, o := range opts {
		if !slices.Contains(dynamoDBOptions, o.keyword) {
			return "", fmt.Errorf("%s: %s does not apply to a DynamoDB source; it takes %s", o.path(), o.keyword, strings.Join(dynamoDBOptions, ", "))
		}
		ratio = ratio || o.keyword == "READRATIO"
		b.WriteString(" " + o.sql())
	}
	if !ratio {
		return "", fmt.Errorf("redshift_copy.options: a DynamoDB source needs READRATIO n: the percentage of the table's read capacity the load may use")
	}
	return b.String(), nil
}
