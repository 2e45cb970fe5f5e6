package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

// Redshift connection defaults.
const (
	defaultRedshiftPort    = 5439
	defaultRedshiftSSLMode = "require"
)

// sslModes are the libpq sslmode values pgx accepts.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// redshiftConn opens the database lazily: a plan without Redshift resources never connects, and
// every resource of one Terraform operation shares one pool and one catalog snapshot.
type redshiftConn struct {
	host, database, username, password, sslmode string
	port                                        int
	// iam, when set, replaces username and password with GetClusterCredentials.
	iam *redshift.IAMAuth
	// dataAPI, when set, replaces the connection with the Redshift Data API.
	dataAPI       *redshift.DataAPITarget
	dataAPIClient redshift.DataAPI

	// unknown names the connection settings only known after apply (set while planning when
	// they come from resources not yet created); nothing else is set then.
	unknown []string

	mu  sync.Mutex
	cat *redshift.Catalog
}

// knownAtPlan reports whether the connection can be opened while planning: false only when the
// redshift block is present and some of its settings are unknown until apply.
func (c *redshiftConn) knownAtPlan() bool { return c == nil || len(c.unknown) == 0 }

// url builds the connection URL; it holds the password and must never be logged.
func (c *redshiftConn) url() string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(c.username, c.password),
		Host:     net.JoinHostPort(c.host, strconv.Itoa(c.port)),
		Path:     "/" + c.database,
		RawQuery: url.Values{"sslmode": {c.sslmode}}.Encode(),
	}
	return u.String()
}

func (c *redshiftConn) catalog(ctx context.Context) (*redshift.Catalog, error) {
	if c == nil {
		return nil, errors.New("this resource needs a database: add a redshift { host = ..., database = ..., username = ..., password = ... } block to the provider configuration")
	}
	if len(c.unknown) > 0 {
		return nil, fmt.Errorf("the redshift block's settings %s are only known after apply; apply the resources they come from first (-target)",
			strings.Join(c.unknown, ", "))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cat != nil {
		return c.cat, nil
	}
	var ex redshift.Executor
	var err error
	if c.dataAPI != nil {
		ex, err = redshift.OpenDataAPI(ctx, c.dataAPIClient, *c.dataAPI)
	} else {
		// The pool outlives the request that opened it.
		ex, err = redshift.OpenPgx(context.WithoutCancel(ctx), c.url(), c.iam)
	}
	if err != nil {
		return nil, fmt.Errorf("redshift block (user %q): %w", c.username, err)
	}
	c.cat = redshift.NewCatalog(ex)
	return c.cat, nil
}

// catalog returns the provider's database catalog, or nil after adding a diagnostic that says
// why it cannot be reached.
func (d *providerData) catalog(ctx context.Context, diags *diag.Diagnostics) *redshift.Catalog {
	cat, err := d.redshift.catalog(ctx)
	if err != nil {
		diags.AddError("Cannot connect to the database", err.Error())
		return nil
	}
	return cat
}

// readCatalog is catalog for Read: while the connection settings are unknown (planning, the
// cluster not yet created) it returns nil with no diagnostic, so the refresh keeps the state as
// it is instead of failing the plan; apply configures the provider with known values.
func (d *providerData) readCatalog(ctx context.Context, diags *diag.Diagnostics) *redshift.Catalog {
	if !d.redshift.knownAtPlan() {
		tflog.Debug(ctx, "redshift connection unknown until apply: state kept as is", map[string]any{"unknown": d.redshift.unknown})
		return nil
	}
	return d.catalog(ctx, diags)
}

// readFound does what every Redshift Read does with a catalog lookup's error: an object that is
// gone from the database leaves state (so the plan creates it again), any other error is a
// diagnostic. It reports whether the read can go on.
func readFound(ctx context.Context, resp *resource.ReadResponse, what string, err error) bool {
	switch {
	case errors.Is(err, redshift.ErrNotFound):
		resp.Diagnostics.AddWarning(what+" is gone",
			fmt.Sprintf("%s; it is removed from state and the plan will create it again.", err))
		resp.State.RemoveResource(ctx)
		return false
	case err != nil:
		resp.Diagnostics.AddError("Reading "+strings.ToLower(what)+" failed", err.Error())
		return false
	}
	return true
}
