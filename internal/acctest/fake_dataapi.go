package acctest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// FakeDataAPI is a TEST-ONLY stand-in for the Redshift Data API: no emulator of it exists. It
// speaks the Data API's JSON protocol and runs each statement on the harness's real PostgreSQL,
// so the provider's Data API executor is tested against real SQL behaviour: statements report
// STARTED once before FINISHED (the client must poll), results come two rows per page (the client
// must follow NextToken), and a batch is one transaction.
type FakeDataAPI struct {
	URL string

	pg   *Postgres
	srv  *http.Server
	mu   sync.Mutex
	seq  int
	stmt map[string]*fakeStatement
	// Requests counts requests by operation.
	Requests map[string]int
}

type fakeStatement struct {
	polled bool
	err    string
	rows   [][]*string
}

// StartFakeDataAPI listens on a free 127.0.0.1 port and runs statements on pg.
func StartFakeDataAPI(pg *Postgres) (*FakeDataAPI, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the fake Data API: %w", err)
	}
	f := &FakeDataAPI{URL: "http://" + l.Addr().String(), pg: pg, stmt: map[string]*fakeStatement{}, Requests: map[string]int{}}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	return f, nil
}

// Stop closes the listener.
func (f *FakeDataAPI) Stop() { _ = f.srv.Close() }

// Count returns how many requests of one operation arrived.
func (f *FakeDataAPI) Count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Requests[op]
}

func (f *FakeDataAPI) serve(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "RedshiftData.")
	var in struct {
		Sql, Database, Id, NextToken string //nolint:revive // the Data API's field names
		Sqls                         []string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSONError(w, "ValidationException", err.Error())
		return
	}
	f.mu.Lock()
	f.Requests[op]++
	f.mu.Unlock()
	switch op {
	case "ExecuteStatement":
		writeJSON(w, map[string]any{"Id": f.run(r.Context(), in.Database, []string{in.Sql}, false)})
	case "BatchExecuteStatement":
		writeJSON(w, map[string]any{"Id": f.run(r.Context(), in.Database, in.Sqls, true)})
	case "DescribeStatement":
		f.mu.Lock()
		st, ok := f.stmt[in.Id]
		first := ok && !st.polled
		if ok {
			st.polled = true
		}
		f.mu.Unlock()
		switch {
		case !ok:
			writeJSONError(w, "ResourceNotFoundException", "no statement "+in.Id)
		case first:
			writeJSON(w, map[string]any{"Id": in.Id, "Status": "STARTED"})
		case st.err != "":
			writeJSON(w, map[string]any{"Id": in.Id, "Status": "FAILED", "Error": st.err})
		default:
			writeJSON(w, map[string]any{"Id": in.Id, "Status": "FINISHED", "HasResultSet": st.rows != nil})
		}
	case "GetStatementResult":
		f.mu.Lock()
		st, ok := f.stmt[in.Id]
		f.mu.Unlock()
		if !ok {
			writeJSONError(w, "ResourceNotFoundException", "no statement "+in.Id)
			return
		}
		const pageSize = 2
		start, _ := strconv.Atoi(in.NextToken)
		end := min(start+pageSize, len(st.rows))
		records := [][]map[string]any{}
		for _, row := range st.rows[start:end] {
			rec := []map[string]any{}
			for _, v := range row {
				if v == nil {
					rec = append(rec, map[string]any{"isNull": true})
				} else {
					rec = append(rec, map[string]any{"stringValue": *v})
				}
			}
			records = append(records, rec)
		}
		out := map[string]any{"Records": records, "TotalNumRows": len(st.rows)}
		if end < len(st.rows) {
			out["NextToken"] = strconv.Itoa(end)
		}
		writeJSON(w, out)
	default:
		writeJSONError(w, "UnknownOperationException", "the fake Data API does not implement "+op)
	}
}

// run executes statements on the database (a batch in one transaction) and records the outcome.
func (f *FakeDataAPI) run(ctx context.Context, database string, sqls []string, batch bool) string {
	st := &fakeStatement{}
	cfg, err := pgx.ParseConfig(f.pg.URL(database))
	if err == nil {
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		var conn *pgx.Conn
		if conn, err = pgx.ConnectConfig(ctx, cfg); err == nil {
			defer conn.Close(ctx)
			if batch {
				err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
					for _, s := range sqls {
						if _, err := tx.Exec(ctx, s); err != nil {
							return fmt.Errorf("%s: %w", s, err)
						}
					}
					return nil
				})
			} else {
				st.rows, err = queryText(ctx, conn, sqls[0])
			}
		}
	}
	if err != nil {
		st.err = "ERROR: " + err.Error()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	id := fmt.Sprintf("fake-%d", f.seq)
	f.stmt[id] = st
	return id
}

func queryText(ctx context.Context, conn *pgx.Conn, q string) ([][]*string, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	out := [][]*string{}
	for rows.Next() {
		raw := rows.RawValues()
		row := make([]*string, len(raw))
		for i, b := range raw {
			if b != nil {
				s := string(b)
				row[i] = &s
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	if len(rows.FieldDescriptions()) == 0 {
		return nil, nil // a statement without a result set
	}
	return out, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}
