// Command terraform-provider-sluice serves the sluice Terraform provider.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/sluice-data/terraform-provider-sluice/internal/provider"
)

// Generate the documentation with tfplugindocs (see `make docs`).

// version is set by the release build with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/sluice-data/sluice",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}
