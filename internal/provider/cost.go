package provider

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sluice-data/terraform-provider-sluice/internal/cost"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
)

// costs prices the estimated_* attributes: the price table (embedded, merged with the provider's
// prices file) and the region, plus the EMR templates planned in this Terraform run.
//
// A pipeline's run cost depends on the templates its emr_step activities name. When a template
// changes in the same plan, the registry still holds the old one; Terraform plans a template
// before the pipelines that refer to it (template = sluice_emr_template.x.name), in this same
// provider process, so the template records what it plans here and the pipeline prices that.
// Templates from other configurations are read from the registry.
type costs struct {
	table  *cost.Table
	region string

	mu      sync.Mutex
	planned map[string]*definition.EMRTemplate
}

func newCosts(t *cost.Table, region string) *costs {
	return &costs{table: t, region: region, planned: map[string]*definition.EMRTemplate{}}
}

// plan records the template a sluice_emr_template plans.
func (c *costs) plan(tpl *definition.EMRTemplate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.planned[tpl.Name] = tpl
}

// templates looks a template up among the planned ones, then in the registry (nil: none).
func (c *costs) templates(ctx context.Context, reg registry.Registry) cost.TemplateLookup {
	return func(name string) (*definition.EMRTemplate, bool, error) {
		c.mu.Lock()
		tpl, ok := c.planned[name]
		c.mu.Unlock()
		if ok {
			return tpl, true, nil
		}
		if reg == nil {
			return nil, false, nil
		}
		data, err := reg.Get(ctx, registry.EMRTemplateKey(name))
		if errors.Is(err, registry.ErrNotFound) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("registry %s: %w", reg.URL(), err)
		}
		tpl, err = definition.DecodeEMRTemplate(data)
		if err != nil && !errors.Is(err, definition.ErrVersionMismatch) {
			return nil, false, fmt.Errorf("registry %s: %w", reg.URL(), err)
		}
		return tpl, true, nil
	}
}

// usd is an estimate as an attribute value: rounded to a hundredth of a cent, null when unknown.
func usd(e cost.Estimate) types.Float64 {
	if !e.Known() {
		return types.Float64Null()
	}
	return types.Float64Value(cost.Round(e.USD()))
}

// warnUnestimated says why an estimate attribute is null; the plan goes on.
func (c *costs) warnUnestimated(diags *diag.Diagnostics, attr, subject string, e cost.Estimate) {
	if e.Known() {
		return
	}
	diags.AddAttributeWarning(path.Root(attr), "Cost not estimated",
		fmt.Sprintf("%s is null for %s: %s.", attr, subject, e.Why(c.table)))
}

// costDescriptionSuffix ends every estimate attribute's description.
const costDescriptionSuffix = " In US dollars, rounded to a hundredth of a cent, from the provider's price table (embedded and dated; see `prices`). " +
	"Computed at plan time, so `terraform plan` shows how a change moves it. Null, with a warning naming what is missing, when a price or an input it needs is not known: never a guessed number."
