package redshift

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/redshiftdata"
	"github.com/aws/aws-sdk-go-v2/service/redshiftdata/types"
)

// DataAPI is the part of the Redshift Data API client the executor uses; *redshiftdata.Client
// implements it.
type DataAPI interface {
	ExecuteStatement(context.Context, *redshiftdata.ExecuteStatementInput, ...func(*redshiftdata.Options)) (*redshiftdata.ExecuteStatementOutput, error)
	BatchExecuteStatement(context.Context, *redshiftdata.BatchExecuteStatementInput, ...func(*redshiftdata.Options)) (*redshiftdata.BatchExecuteStatementOutput, error)
	DescribeStatement(context.Context, *redshiftdata.DescribeStatementInput, ...func(*redshiftdata.Options)) (*redshiftdata.DescribeStatementOutput, error)
	GetStatementResult(context.Context, *redshiftdata.GetStatementResultInput, ...func(*redshiftdata.Options)) (*redshiftdata.GetStatementResultOutput, error)
}

// DataAPITarget says where Data API statements run: a provisioned cluster or a serverless
// workgroup, authenticated by a Secrets Manager secret or (cluster only) a database user.
type DataAPITarget struct {
	ClusterIdentifier string
	WorkgroupName     string
	SecretARN         string
	DBUser            string
	Database          string
}

// Validate checks the target names exactly one place and one way to authenticate.
func (t DataAPITarget) Validate() error {
	switch {
	case (t.ClusterIdentifier == "") == (t.WorkgroupName == ""):
		return errors.New("data_api needs exactly one of cluster_identifier or workgroup_name")
	case t.Database == "":
		return errors.New("data_api needs the database")
	case t.WorkgroupName != "" && t.DBUser != "":
		return errors.New("data_api: db_user works with cluster_identifier only; use secret_arn for a workgroup")
	}
	return nil
}

// DataAPIExecutor runs statements through the Redshift Data API: no network path to the cluster
// is needed, only HTTPS to AWS. Statements are asynchronous there, so each call submits, polls
// until the statement ends, and pages through the result.
type DataAPIExecutor struct {
	api     DataAPI
	target  DataAPITarget
	dialect Dialect
	queries atomic.Int64
	// Poll is the first wait between status checks; it doubles up to 5 s.
	Poll time.Duration
}

// OpenDataAPI checks the target with SELECT version() and returns an executor.
func OpenDataAPI(ctx context.Context, api DataAPI, target DataAPITarget) (*DataAPIExecutor, error) {
	if err := target.Validate(); err != nil {
		return nil, err
	}
	e := &DataAPIExecutor{api: api, target: target, Poll: 100 * time.Millisecond}
	rows, err := e.Query(ctx, "SELECT version()")
	if err != nil {
		return nil, fmt.Errorf("connecting through the Data API: %w", err)
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return nil, errors.New("connecting through the Data API: SELECT version() returned no version")
	}
	e.dialect = DetectDialect(rows[0][0].String)
	return e, nil
}

// Dialect implements Executor.
func (e *DataAPIExecutor) Dialect() Dialect { return e.dialect }

// Queries implements Executor.
func (e *DataAPIExecutor) Queries() int64 { return e.queries.Load() }

// Close implements Executor; the Data API holds no connection.
func (e *DataAPIExecutor) Close() {}

func (e *DataAPIExecutor) str(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// Query implements Executor.
func (e *DataAPIExecutor) Query(ctx context.Context, q string) ([]Row, error) {
	e.queries.Add(1)
	out, err := e.api.ExecuteStatement(ctx, &redshiftdata.ExecuteStatementInput{
		Sql: aws.String(q), Database: aws.String(e.target.Database),
		ClusterIdentifier: e.str(e.target.ClusterIdentifier), WorkgroupName: e.str(e.target.WorkgroupName),
		SecretArn: e.str(e.target.SecretARN), DbUser: e.str(e.target.DBUser),
	})
	if err != nil {
		return nil, fmt.Errorf("redshift data API ExecuteStatement: %w", err)
	}
	desc, err := e.wait(ctx, aws.ToString(out.Id))
	if err != nil {
		return nil, err
	}
	if !aws.ToBool(desc.HasResultSet) {
		return nil, nil
	}
	var rows []Row
	in := &redshiftdata.GetStatementResultInput{Id: out.Id}
	for {
		page, err := e.api.GetStatementResult(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("redshift data API GetStatementResult: %w", err)
		}
		for _, rec := range page.Records {
			r := make(Row, len(rec))
			for i, f := range rec {
				r[i] = fieldText(f)
			}
			rows = append(rows, r)
		}
		if aws.ToString(page.NextToken) == "" {
			return rows, nil
		}
		in.NextToken = page.NextToken
	}
}

// ExecTx implements Executor: BatchExecuteStatement runs its statements as one transaction.
func (e *DataAPIExecutor) ExecTx(ctx context.Context, stmts ...string) error {
	if len(stmts) == 0 {
		return nil
	}
	e.queries.Add(int64(len(stmts)))
	out, err := e.api.BatchExecuteStatement(ctx, &redshiftdata.BatchExecuteStatementInput{
		Sqls: stmts, Database: aws.String(e.target.Database),
		ClusterIdentifier: e.str(e.target.ClusterIdentifier), WorkgroupName: e.str(e.target.WorkgroupName),
		SecretArn: e.str(e.target.SecretARN), DbUser: e.str(e.target.DBUser),
	})
	if err != nil {
		return fmt.Errorf("redshift data API BatchExecuteStatement: %w", err)
	}
	_, err = e.wait(ctx, aws.ToString(out.Id))
	return err
}

// Exec implements Executor: a single ExecuteStatement runs in autocommit mode.
func (e *DataAPIExecutor) Exec(ctx context.Context, stmt string) error {
	_, err := e.Query(ctx, stmt)
	return err
}

// DataAPIError is a statement the database refused, as the Data API reports it (a message, no
// SQLSTATE).
type DataAPIError struct {
	Status  string
	Message string
}

func (e *DataAPIError) Error() string { return fmt.Sprintf("statement %s: %s", e.Status, e.Message) }

func (e *DataAPIExecutor) wait(ctx context.Context, id string) (*redshiftdata.DescribeStatementOutput, error) {
	wait := e.Poll
	for {
		d, err := e.api.DescribeStatement(ctx, &redshiftdata.DescribeStatementInput{Id: aws.String(id)})
		if err != nil {
			return nil, fmt.Errorf("redshift data API DescribeStatement: %w", err)
		}
		switch d.Status {
		case types.StatusStringFinished:
			return d, nil
		case types.StatusStringFailed, types.StatusStringAborted:
			return nil, &DataAPIError{Status: string(d.Status), Message: aws.ToString(d.Error)}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("waiting for Data API statement %s: %w", id, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// fieldText renders a Data API field as text, as the pgx executor's text results are.
func fieldText(f types.Field) sql.NullString {
	switch v := f.(type) {
	case *types.FieldMemberIsNull:
		return sql.NullString{}
	case *types.FieldMemberStringValue:
		return sql.NullString{String: v.Value, Valid: true}
	case *types.FieldMemberLongValue:
		return sql.NullString{String: strconv.FormatInt(v.Value, 10), Valid: true}
	case *types.FieldMemberDoubleValue:
		return sql.NullString{String: strconv.FormatFloat(v.Value, 'g', -1, 64), Valid: true}
	case *types.FieldMemberBooleanValue:
		return sql.NullString{String: strconv.FormatBool(v.Value), Valid: true}
	case *types.FieldMemberBlobValue:
		return sql.NullString{String: string(v.Value), Valid: true}
	}
	return sql.NullString{}
}
