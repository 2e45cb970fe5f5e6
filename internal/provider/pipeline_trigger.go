package provider

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// pipelineTriggerAttribute is the schema of sluice_pipeline.trigger: what starts runs besides
// (or instead of) the schedule. The rules are checked by definition.ValidatePipeline.
func pipelineTriggerAttribute(
	str func(bool, string) schema.StringAttribute,
	list func(bool, string) schema.ListAttribute,
	duration func(string) schema.StringAttribute,
) schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		Optional: true,
		MarkdownDescription: "Start runs on events: S3 objects and other pipelines' notifications read from an SQS queue (`sqs`), and the success of " +
			"other pipelines of the same runner state database (`after`). Set `sqs`, `after`, or both. Each event makes a run exactly once: the " +
			"runner records the event's dedupe key in the transaction that creates its run and deletes a message only after that commits; a " +
			"message it cannot use stays on the queue for the queue's redrive policy (dead-letter queue), with a log line naming the pipeline and why.",
		Attributes: map[string]schema.Attribute{
			"sqs": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Long-poll an SQS queue. The runner understands S3 event notifications sent to the queue directly, through an SNS " +
					"topic (the SNS envelope), or by EventBridge (S3 `Object Created` events), and `sluice/notification.v1` success messages of the " +
					"pipelines named in `after`. Without `max_events` and `max_wait` each event makes a run; a run made from S3 events has the " +
					"interval its key pattern's date names (an hour with `{hour}`, else a day), else the second of its event time; from a notification, " +
					"the upstream run's interval. Templates see the objects as `.Event.Objects` (`.Bucket`, `.Key`, `.Size`, `.ETag`, `.Time`, `.Parts`).",
				Attributes: map[string]schema.Attribute{
					"queue_url": str(true, "URL of the queue, e.g. `https://sqs.eu-west-1.amazonaws.com/123456789012/raw-events`. Several pipelines may "+
						"read one queue: a message's events go to every pipeline whose filter they match, and it is deleted once all their runs are recorded."),
					"bucket": str(false, "Only objects of this bucket. Unset, any bucket."),
					"prefix": str(false, "Only keys starting with this, e.g. `raw/`."),
					"suffix": str(false, "Only keys ending with this, e.g. `.csv`."),
					"pattern": str(false, "Only keys matching this pattern, e.g. `raw/{date}/{hour}/`: text outside braces is literal, `{name}` "+
						"matches one or more characters other than `/` and becomes the run's parameter `.Params.name`; "+
						fmt.Sprintf("`{%s}`", strings.Join(definition.DateParts(), "}`, `{"))+" must be a date (`YYYY-MM-DD`), year, month, day or "+
						"hour and give the run its interval. A pattern ending in `/` matches every key under it, any other the whole key. A part may "+
						"not be named like a declared parameter."),
					"after": list(false, "Pipelines whose `sluice/notification.v1` success messages on this queue start a run (for the upstream "+
						"run's interval; `.Event.Upstream` in templates): pipelines of other runners, regions or teams, through an SNS topic subscribed "+
						"by the queue. A notification of a pipeline not listed here is left on the queue for its redrive policy."),
					"max_events": schema.Int64Attribute{Optional: true, MarkdownDescription: fmt.Sprintf("Coalesce up to this many events into one "+
						"run (at most %d). With `max_wait`, a run is made when either is reached.", definition.MaxBatchEvents)},
					"max_wait": duration(fmt.Sprintf("How long the first event of a batch waits for more (at most 12h). Default `%s` when `max_events` "+
						"is set.", definition.DefaultMaxWait)),
					"visibility_timeout": duration(fmt.Sprintf("How long a received message is hidden from other consumers; the runner extends it "+
						"while the message waits in a batch, and a message of a runner that died comes back after it. Default `%s`.", definition.DefaultVisibility)),
				},
			},
			"after": list(false, "Pipelines of the same runner state database: each successful run of one of them creates a run of this "+
				"pipeline for the same interval, once. Only upstream runs that finish after this pipeline was first published count."),
			"max_active_runs": schema.Int64Attribute{Optional: true, MarkdownDescription: "How many triggered runs may be active at once. Default `1`."},
		},
	}
}
