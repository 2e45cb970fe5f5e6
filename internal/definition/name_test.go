package definition

import (
	"strings"
	"testing"
)

// The runner accepted "." and ".." as pipeline names (issue 11, item 7): the key
// pipelines/...json and a name that is a directory. One rule now serves provider and runner.
func TestValidateName_RefusesDotNamesAndUnsafePathElements(t *testing.T) {
	ok := []string{"a", "daily_clicks", "web-logs.v2", "A1", "0day", "a.", "a..b", strings.Repeat("x", 128)}
	for _, name := range ok {
		if err := ValidateName("pipeline", name); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", name, err)
		}
	}
	bad := map[string]string{
		"":                       `pipeline name "" is not valid (it is empty): use ` + NameRule,
		".":                      `pipeline name "." is not valid ("." and ".." are not names: they would name a directory, not a document, in the registry): use ` + NameRule,
		"..":                     `pipeline name ".." is not valid ("." and ".." are not names: they would name a directory, not a document, in the registry): use ` + NameRule,
		"...":                    `pipeline name "..." is not valid: use ` + NameRule,
		".hidden":                `pipeline name ".hidden" is not valid: use ` + NameRule,
		"-rf":                    `pipeline name "-rf" is not valid: use ` + NameRule,
		"_x":                     `pipeline name "_x" is not valid: use ` + NameRule,
		"a/b":                    `pipeline name "a/b" is not valid: use ` + NameRule,
		"../etc":                 `pipeline name "../etc" is not valid: use ` + NameRule,
		`a\b`:                    `pipeline name "a\\b" is not valid: use ` + NameRule,
		"a b":                    `pipeline name "a b" is not valid: use ` + NameRule,
		"a\x00":                  `pipeline name "a\x00" is not valid: use ` + NameRule,
		"é":                      `pipeline name "é" is not valid: use ` + NameRule,
		strings.Repeat("x", 129): `pipeline name "` + strings.Repeat("x", 129) + `" is not valid (it is 129 characters long): use ` + NameRule,
	}
	for name, want := range bad {
		err := ValidateName("pipeline", name)
		if err == nil || err.Error() != want {
			t.Errorf("ValidateName(%q) = %v, want %s", name, err, want)
		}
	}
}

func TestValidatePipeline_RefusesDotDotName(t *testing.T) {
	p := workedPipeline()
	p.Name = ".."
	probs := ValidatePipeline(p)
	if len(probs) != 1 || probs[0].Path != "name" || !strings.Contains(probs[0].Message, `pipeline name ".." is not valid`) {
		t.Errorf("ValidatePipeline(name ..) = %v, want one problem at name", probs)
	}
}
