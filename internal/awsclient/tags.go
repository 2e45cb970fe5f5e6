package awsclient

// MergeTags returns defaults overlaid with tags: a resource's own tag wins over a default tag of
// the same key, as with the AWS provider's default_tags. The result is what AWS should hold
// (tags_all).
func MergeTags(defaults, tags map[string]string) map[string]string {
	out := make(map[string]string, len(defaults)+len(tags))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range tags {
		out[k] = v
	}
	return out
}

// ResourceTags splits the tags AWS reports into the part a resource's `tags` attribute owns.
// A key the resource declared stays the resource's (with AWS's value, so a change made outside
// Terraform shows as drift). A key only the provider's default_tags declare belongs to tags_all
// alone. Any other key was added outside Terraform and is returned too, so the next plan removes
// it. prior is nil when nothing was declared (e.g. after import).
func ResourceTags(prior, actual, defaults map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range actual {
		_, declared := prior[k]
		_, isDefault := defaults[k]
		if declared || !isDefault {
			out[k] = v
		}
	}
	return out
}
