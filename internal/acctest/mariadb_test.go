package acctest

import (
	"context"
	"strings"
	"testing"
)

func TestStartMariaDB_AnswersOnLoopbackWithItsPassword(t *testing.T) {
	m, err := StartMariaDB(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if err := m.Exec(context.Background(), "", "CREATE DATABASE probe", "CREATE TABLE probe.t (id INT PRIMARY KEY)", "INSERT INTO probe.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if u := m.URL("probe"); !strings.HasPrefix(u, "mysql://sluice:") || !strings.Contains(u, "@127.0.0.1:") {
		t.Errorf("URL %s", u)
	}
	wrong := *m
	wrong.Password = "not-it"
	if err := wrong.Exec(context.Background(), "", "SELECT 1"); err == nil || !strings.Contains(err.Error(), "Access denied") {
		t.Errorf("a wrong password: %v, want access denied", err)
	}
}
