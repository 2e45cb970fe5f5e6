package activity

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
)

// RunIDString is how a run id appears in templates ({{ .RunID }}) and logs.
func RunIDString(id int64) string { return strconv.FormatInt(id, 10) }

// Render returns a copy of a with every string rendered as a template against data: paths,
// SQL, commands, environment values. The provider checked every template at plan time, so an
// error here means the document was published by something else; it names the field.
func Render(a *definition.Activity, data definition.TemplateData) (*definition.Activity, error) {
	raw, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encoding the activity: %w", err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, fmt.Errorf("decoding the activity: %w", err)
	}
	tree, err = renderTree(tree, "", data)
	if err != nil {
		return nil, err
	}
	raw, err = json.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("encoding the rendered activity: %w", err)
	}
	var out definition.Activity
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decoding the rendered activity: %w", err)
	}
	if w := out.WaitFor; w != nil && w.Pipeline != nil {
		// Unset, the upstream must cover the run's own interval.
		if w.Pipeline.Start == "" {
			w.Pipeline.Start = data.Start.Format(time.RFC3339Nano)
		}
		if w.Pipeline.End == "" {
			w.Pipeline.End = data.End.Format(time.RFC3339Nano)
		}
	}
	return &out, nil
}

func renderTree(v any, path string, data definition.TemplateData) (any, error) {
	switch x := v.(type) {
	case string:
		if !definition.IsTemplated(x) {
			return x, nil
		}
		s, err := definition.Render(x, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return s, nil
	case []any:
		for i := range x {
			r, err := renderTree(x[i], path+"["+strconv.Itoa(i)+"]", data)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
		return x, nil
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			r, err := renderTree(e, p, data)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
		return x, nil
	default:
		return v, nil
	}
}
