package definition

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownFormat is wrapped when a document's format is not one this build knows.
var ErrUnknownFormat = errors.New("unknown format")

// ErrVersionMismatch is wrapped when a document's version is not the hash of its content: it was
// edited after publishing.
var ErrVersionMismatch = errors.New("version does not match the content")

// PeekFormat reads only the format field.
func PeekFormat(data []byte) (string, error) {
	var head struct {
		Format *string `json:"format"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", fmt.Errorf("not a sluice document: %w", err)
	}
	if head.Format == nil {
		return "", errors.New(`not a sluice document: no "format" field`)
	}
	return *head.Format, nil
}

// DecodePipeline decodes a published pipeline strictly: the format must be sluice/pipeline.v1,
// unknown fields are errors, and the version must match the content.
func DecodePipeline(data []byte) (*Pipeline, error) {
	var p Pipeline
	if err := decodeStrict(data, FormatPipeline, &p); err != nil {
		return nil, err
	}
	return &p, checkVersion(&p, p.Version)
}

// DecodeEMRTemplate decodes a published EMR template strictly.
func DecodeEMRTemplate(data []byte) (*EMRTemplate, error) {
	var t EMRTemplate
	if err := decodeStrict(data, FormatEMRTemplate, &t); err != nil {
		return nil, err
	}
	return &t, checkVersion(&t, t.Version)
}

func decodeStrict(data []byte, format string, v any) error {
	got, err := PeekFormat(data)
	if err != nil {
		return err
	}
	if got != format {
		if isKnown(got) {
			return fmt.Errorf("document is %q, expected %q", got, format)
		}
		return fmt.Errorf("%w %q: this build reads %s", ErrUnknownFormat, got, strings.Join(Formats(), ", "))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding %s: %w", format, err)
	}
	if dec.More() {
		return fmt.Errorf("decoding %s: trailing data after the document", format)
	}
	return nil
}

func isKnown(format string) bool {
	for _, f := range Formats() {
		if f == format {
			return true
		}
	}
	return false
}

func checkVersion(doc any, version string) error {
	want, err := VersionOf(doc)
	if err != nil {
		return err
	}
	if version != want {
		return fmt.Errorf("%w: document says %q, content hashes to %q", ErrVersionMismatch, version, want)
	}
	return nil
}
