package definition

import "testing"

func TestParseSize(t *testing.T) {
	ok := map[string]int64{
		"1": 1, "4MiB": 4 << 20, "500KB": 500_000, "1 GiB": 1 << 30, "2048B": 2048, "3MB": 3_000_000, "7KiB": 7 << 10,
	}
	for in, want := range ok {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                     `size "" is not valid: use ` + SizeForms,
		"0":                    `size "0" is not valid: use ` + SizeForms,
		"-1MiB":                `size "-1MiB" is not valid: use ` + SizeForms,
		"4.5MB":                `size "4.5MB" is not valid: use ` + SizeForms,
		"4TB":                  `size "4TB" is not valid: use ` + SizeForms,
		"2GiB":                 `size "2GiB" is over the largest allowed, 1GiB`,
		"99999999999999999999": `size "99999999999999999999" is not valid: use ` + SizeForms,
	}
	for in, want := range bad {
		if _, err := ParseSize(in); err == nil || err.Error() != want {
			t.Errorf("ParseSize(%q) error = %v, want %s", in, err, want)
		}
	}
	for n, want := range map[int64]string{4 << 20: "4MiB", 1500: "1500B", 1 << 30: "1GiB", 3 << 10: "3KiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
