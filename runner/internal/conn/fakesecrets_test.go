package conn_test

import (
	"context"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/fakesecrets"
)

// fakeSecrets is the TEST-ONLY Secrets Manager stand-in (package fakesecrets), with the names
// these tests were written with.
type fakeSecrets struct{ *fakesecrets.Server }

func startFakeSecrets(t *testing.T) *fakeSecrets { return &fakeSecrets{fakesecrets.Start(t)} }

func (f *fakeSecrets) setString(arn, v string)        { f.SetString(arn, v) }
func (f *fakeSecrets) setBinary(arn string, b []byte) { f.SetBinary(arn, b) }
func (f *fakeSecrets) setError(arn, code string)      { f.SetError(arn, code) }
func (f *fakeSecrets) callsFor(arn string) int        { return f.CallsFor(arn) }

func (f *fakeSecrets) aws() func(context.Context) (*awsclient.Client, error) { return f.AWS() }
