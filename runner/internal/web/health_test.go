package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

// tickingSource is a fixedSource of a scheduling runner.
type tickingSource struct {
	fixedSource
	ticks status.Ticks
}

func (s *tickingSource) Ticks() status.Ticks { return s.ticks }

// Failing ticks were invisible (issue 11, item 3): the status page now shows how many failed,
// the last error and when, and the documents that could not be read, escaped.
func TestIndex_ShowsFailedTicksLastErrorAndUnreadableDocuments(t *testing.T) {
	src := &tickingSource{fixedSource: fixedSource{pipelines: fixture()}, ticks: status.Ticks{
		Last: at("2026-11-18T11:59:45Z"), LastOK: at("2026-11-18T11:58:00Z"),
		Failures: 77, Consecutive: 5, UnhealthyAfter: 3,
		LastError: `listing pipelines in file:///reg: <b>disk</b> full`, LastErrorAt: at("2026-11-18T11:59:45Z"),
		Unreadable: []status.DocumentError{{Key: "pipelines/big.json", Error: "document too large <x>"}},
	}}
	srv := newServer(t, src, nil)
	resp, body := get(t, srv.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	sched := section(t, strings.Replace(body, `id="scheduler"`, `id="pipeline-scheduler"`, 1), "scheduler")
	wantContains(t, sched,
		`<span class="badge state-failed">unhealthy</span>`,
		`77 in all, 5 in a row (unhealthy after 3)`,
		`<pre class="error">listing pipelines in file:///reg: &lt;b&gt;disk&lt;/b&gt; full</pre>`,
		`<time datetime="2026-11-18T11:59:45Z">2026-11-18T11:59:45Z</time> <span class="muted">(15s ago)</span>`,
		`<tr><td><code>pipelines/big.json</code></td><td><pre class="error">document too large &lt;x&gt;</pre></td></tr>`,
	)

	resp, body = get(t, srv.URL+"/api/ticks")
	var got status.Ticks
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.Failures != 77 || got.LastError != src.ticks.LastError || len(got.Unreadable) != 1 {
		t.Errorf("/api/ticks = %d %s", resp.StatusCode, body)
	}
	// A runner that does not schedule has no ticks to show.
	plain := newServer(t, &fixedSource{pipelines: fixture()}, nil)
	if _, body := get(t, plain.URL+"/"); strings.Contains(body, `id="scheduler"`) {
		t.Error("a source without ticks shows a scheduler section")
	}
	if resp, _ := get(t, plain.URL+"/api/ticks"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/api/ticks without ticks = %d, want 404", resp.StatusCode)
	}
}

// The status page listed every pipeline at once (issue 11, item 6: 80 MB pages). It now shows
// PageSize pipelines a page, with links, and the API pages the same way.
func TestIndex_IsPaginatedHoweverManyPipelinesThereAre(t *testing.T) {
	var ps []status.Pipeline
	for i := range 1234 {
		ps = append(ps, status.Pipeline{Name: fmt.Sprintf("p%04d", i), Enabled: true})
	}
	srv := newServer(t, &fixedSource{pipelines: ps}, nil)

	_, first := get(t, srv.URL+"/")
	if n := strings.Count(first, `<section class="pipeline"`); n != 50 {
		t.Errorf("first page shows %d pipelines, want 50", n)
	}
	wantContains(t, first, `id="pipeline-p0000"`, `id="pipeline-p0049"`,
		`pipelines 1–50 of 1234 (page 1 of 25)`, `<a href="/?page=2" rel="next">next →</a>`)
	if strings.Contains(first, `id="pipeline-p0050"`) || strings.Contains(first, `rel="prev"`) {
		t.Error("first page shows the second page's pipelines or a previous link")
	}
	_, last := get(t, srv.URL+"/?page=25")
	if n := strings.Count(last, `<section class="pipeline"`); n != 34 {
		t.Errorf("last page shows %d pipelines, want 34", n)
	}
	wantContains(t, last, `id="pipeline-p1233"`, `pipelines 1201–1234 of 1234 (page 25 of 25)`, `<a href="/?page=24" rel="prev">← previous</a>`)
	_, custom := get(t, srv.URL+"/?page=2&per_page=500")
	wantContains(t, custom, `id="pipeline-p0500"`, `id="pipeline-p0999"`, `<a href="/?page=3&amp;per_page=500" rel="next">`)
	if len(custom) > 1<<20 {
		t.Errorf("a page of 500 pipelines is %d bytes", len(custom))
	}
	_, beyond := get(t, srv.URL+"/?page=99")
	wantContains(t, beyond, "No pipelines on this page.", `<a href="/?page=25" rel="prev">`)

	for _, bad := range []string{"page=0", "page=x", "per_page=501", "per_page=0"} {
		if resp, _ := get(t, srv.URL+"/?"+bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("/?%s = %d, want 400", bad, resp.StatusCode)
		}
		if resp, _ := get(t, srv.URL+"/api/pipelines?"+bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("/api/pipelines?%s = %d, want 400", bad, resp.StatusCode)
		}
	}

	resp, body := get(t, srv.URL+"/api/pipelines?page=3&per_page=100")
	var got []status.Pipeline
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 || got[0].Name != "p0200" || resp.Header.Get("X-Total-Count") != "1234" ||
		resp.Header.Get("Link") != `</api/pipelines?page=4&per_page=100>; rel="next"` {
		t.Errorf("/api/pipelines page 3 = %d pipelines from %s, total %q, link %q", len(got), got[0].Name, resp.Header.Get("X-Total-Count"), resp.Header.Get("Link"))
	}
	resp, _ = get(t, srv.URL+"/api/pipelines?page=13&per_page=100")
	if resp.Header.Get("Link") != "" {
		t.Errorf("last API page has a next link %q", resp.Header.Get("Link"))
	}
}
