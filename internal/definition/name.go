package definition

import (
	"fmt"
	"regexp"
)

// MaxNameLength bounds a pipeline or EMR template name.
const MaxNameLength = 128

// NamePattern is the one rule for pipeline and EMR template names, shared by the provider (plan
// time, import) and the runner (registry reads, run, backfill, status): 1 to 128 letters,
// digits, underscores, dots or hyphens, beginning with a letter or digit.
//
// A name is a path element: the registry key of a pipeline is pipelines/<name>.json, and a file
// registry stores it at that path. The first character being a letter or digit is what keeps
// every name a safe path element: it refuses ".", ".." and "..." (which made the key
// "pipelines/...json"), hidden files (".x"), and names that begin with "-" and read as a flag
// to the tools an operator points at the file. The character set already refuses "/", "\",
// NUL and whitespace.
const NamePattern = `^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`

// NameRule says NamePattern in words, for descriptions and errors.
const NameRule = "1 to 128 letters, digits, '_', '.' or '-', beginning with a letter or digit"

var namePattern = regexp.MustCompile(NamePattern)

// ValidateName checks a pipeline or EMR template name against NamePattern. kind ("pipeline",
// "EMR template") begins the message, which says what is allowed.
func ValidateName(kind, name string) error {
	if namePattern.MatchString(name) {
		return nil
	}
	why := ""
	switch {
	case name == "":
		why = " (it is empty)"
	case name == "." || name == "..":
		why = " (\".\" and \"..\" are not names: they would name a directory, not a document, in the registry)"
	case len(name) > MaxNameLength:
		why = fmt.Sprintf(" (it is %d characters long)", len(name))
	}
	return fmt.Errorf("%s name %q is not valid%s: use %s", kind, name, why, NameRule)
}
