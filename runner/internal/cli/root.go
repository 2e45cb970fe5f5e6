// Package cli is sluice-runner's command line: the root command with the global flags, and one
// file per subcommand.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-data/terraform-provider-sluice/internal/awsclient"
	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/registry"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/config"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitInvalid = 1 // a document is invalid, or the command failed
	ExitUsage   = 2 // bad flags or arguments, or an I/O error (unreadable registry or file)
)

// EnvRegistry is the environment variable that sets --registry.
const EnvRegistry = "SLUICE_REGISTRY"

// Output formats of --output.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// IO is what the commands read from and write to the process: tests give their own.
type IO struct {
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment (SLUICE_REGISTRY and, through awsclient, AWS_ENDPOINT_URL_*).
	Getenv func(string) string
	// Environ lists the environment ("K=V"), for the SLUICE_CONN_* connections.
	Environ func() []string
}

// exitError carries an exit code; its message, when not empty, is printed to stderr.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

func ioError(err error) error { return &exitError{code: ExitUsage, err: err} }

// errInvalid is returned when the output already said what is wrong: exit 1, nothing more printed.
var errInvalid = &exitError{code: ExitInvalid}

// globals are the root command's flags.
type globals struct {
	io         IO
	configFile string
	// file is the config file (--config, $SLUICE_CONFIG) over the defaults; nil without one.
	file       *config.Config
	registry   string
	region     string
	s3Endpoint string
	output     string
	logLevel   string
	log        *slog.Logger
	// maxDocSize is --max-document-size as given; maxDocumentSize the size every registry of
	// the command is opened with (flag, else $SLUICE_MAX_DOCUMENT_SIZE, else the config file).
	maxDocSize      string
	maxDocumentSize int64
	// secrets are every secret value the command learns (connection and state database
	// passwords, Secrets Manager values, webhook tokens), scrubbed from all it writes: its logs,
	// stdout and stderr, the errors and logs the engine stores, the notifications it sends.
	secrets *redact.Secrets
}

// Execute runs sluice-runner with args (without the program name) and returns the exit code.
func Execute(ctx context.Context, args []string, sys IO) int {
	secrets := redact.New()
	sys = scrubbedIO(sys, secrets)
	cmd := newRootCommand(sys, secrets)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(sys.Stderr, "sluice-runner: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(sys.Stderr, "sluice-runner: %v\n", err)
	if strings.HasPrefix(err.Error(), "required flag(s)") {
		return ExitUsage // cobra's own usage error
	}
	return ExitInvalid
}

// NewRootCommand builds the sluice-runner command tree. Run it with ExecuteContext; errors
// carry their exit code (see Execute).
func NewRootCommand(sys IO) *cobra.Command {
	secrets := redact.New()
	return newRootCommand(scrubbedIO(sys, secrets), secrets)
}

// scrubbedIO passes everything written to stdout and stderr through secrets: whatever a
// command prints — results, status, progress, errors — holds no secret it has learnt.
func scrubbedIO(sys IO, secrets *redact.Secrets) IO {
	if sys.Stdout != nil {
		sys.Stdout = secrets.Writer(sys.Stdout)
	}
	if sys.Stderr != nil {
		sys.Stderr = secrets.Writer(sys.Stderr)
	}
	return sys
}

func newRootCommand(sys IO, secrets *redact.Secrets) *cobra.Command {
	if sys.Getenv == nil {
		sys.Getenv = func(string) string { return "" }
	}
	if sys.Environ == nil {
		sys.Environ = func() []string { return nil }
	}
	if sys.Stdout == nil {
		sys.Stdout = io.Discard
	}
	if sys.Stderr == nil {
		sys.Stderr = io.Discard
	}
	g := &globals{io: sys, secrets: secrets}
	root := &cobra.Command{
		Use:   "sluice-runner",
		Short: "Check and run the pipelines that the sluice Terraform provider publishes",
		Long: `sluice-runner reads the definitions the sluice Terraform provider publishes to a registry
(pipelines/<name>.json, emr-templates/<name>.json under an s3:// or file:// URL).

Exit codes: 0 success, 1 invalid documents or a failed command, 2 usage or I/O errors.
Logs are JSON lines on stderr; results go to stdout.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q: run 'sluice-runner --help' for the commands", args[0])
			}
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setup(cmd)
		},
	}
	root.SetOut(sys.Stdout)
	root.SetErr(sys.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: ExitUsage, err: err}
	})
	f := root.PersistentFlags()
	f.StringVar(&g.configFile, "config", "", "YAML config file (default: $"+config.EnvConfig+"); flags and SLUICE_* variables override it")
	f.StringVar(&g.registry, "registry", "", "registry URL: "+strings.Join(registry.URLForms, ", ")+" (default: $"+EnvRegistry+")")
	f.StringVar(&g.region, "region", "", "AWS region of an s3:// registry, of EMR, and of the prices EMR costs are figured at (default: the AWS SDK chain, e.g. $AWS_REGION)")
	f.StringVar(&g.s3Endpoint, "s3-endpoint", "", "S3 endpoint URL, e.g. a local stand-in; takes precedence over $AWS_ENDPOINT_URL_S3, then $AWS_ENDPOINT_URL")
	f.StringVar(&g.output, "output", OutputText, "output format: text or json")
	f.StringVar(&g.logLevel, "log-level", "info", "log level of the JSON logs on stderr: debug, info, warn or error")
	f.StringVar(&g.maxDocSize, "max-document-size", "", "largest registry document read, e.g. 4MiB or 500KB; a larger one fails alone, naming the limit (default: $"+
		config.EnvMaxDocumentSize+", else the config file's, else "+definition.FormatSize(definition.DefaultMaxDocumentSize)+")")

	root.AddCommand(newValidateCommand(g), newGraphCommand(g), newServeCommand(g), newRunCommand(g), newBackfillCommand(g), newStatusCommand(g), newReplicasCommand(g), newPutCommand(g),
		newPauseCommand(g, true), newPauseCommand(g, false), newClearCommand(g), newMarkFailedCommand(g), newActionsCommand(g), newTokenCommand(), newConvertCommand(g))
	return root
}

// setup checks the global flags and builds the logger.
func (g *globals) setup(cmd *cobra.Command) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return usageErrorf("--log-level %q is not a level: use debug, info, warn or error", g.logLevel)
	}
	g.log = slog.New(g.secrets.Handler(slog.NewJSONHandler(g.io.Stderr, &slog.HandlerOptions{Level: level}))).With("command", cmd.Name())
	if g.output != OutputText && g.output != OutputJSON {
		return usageErrorf("--output %q is not supported: use %s or %s", g.output, OutputText, OutputJSON)
	}
	if !cmd.Flags().Changed("registry") {
		g.registry = g.io.Getenv(EnvRegistry)
	}
	// Every command learns the secrets of the environment first, even one that never opens a
	// connection (status): old rows or a failing open may quote them.
	env := config.Default()
	_ = env.LoadEnv(g.io.Environ()) // its errors are the executing commands' to report
	if env.Database == "" {
		env.Database = g.io.Getenv(config.EnvDatabase)
	}
	g.addConfigSecrets(env)
	if !cmd.Flags().Changed("config") {
		g.configFile = g.io.Getenv(config.EnvConfig)
	}
	g.maxDocumentSize = definition.DefaultMaxDocumentSize
	if g.configFile != "" {
		// Every command reads the file, so that status, validate and graph find the same
		// registry, database and S3 settings as serve; flags and variables still win.
		c := config.Default()
		if err := c.LoadFile(g.configFile); err != nil {
			return usageErrorf("%v", err)
		}
		g.file = &c
		g.addConfigSecrets(c)
		if g.registry == "" {
			g.registry = c.Registry
		}
		if g.region == "" {
			g.region = c.Region
		}
		if g.s3Endpoint == "" {
			g.s3Endpoint = c.Endpoints[string(awsclient.S3)]
		}
		g.maxDocumentSize = int64(c.MaxDocumentSize)
	}
	size, from := g.maxDocSize, "--max-document-size"
	if !cmd.Flags().Changed("max-document-size") {
		size, from = g.io.Getenv(config.EnvMaxDocumentSize), "$"+config.EnvMaxDocumentSize
	}
	if size != "" {
		n, err := definition.ParseSize(size)
		if err != nil {
			return usageErrorf("%s: %v", from, err)
		}
		g.maxDocumentSize = n
	}
	return nil
}

// openRegistry opens rawURL, building an S3 client only for an s3:// registry.
func (g *globals) openRegistry(ctx context.Context, rawURL string) (registry.Registry, error) {
	loc, err := registry.ParseURL(rawURL)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	var s3 registry.S3API
	if loc.Scheme == registry.SchemeS3 {
		// No logger for awsclient: it logs endpoint URLs unredacted; ours below redacts them.
		settings := awsclient.Settings{Region: g.region, Getenv: g.io.Getenv}
		if g.s3Endpoint != "" {
			settings.Endpoints = map[awsclient.Service]string{awsclient.S3: g.s3Endpoint}
		}
		client, err := awsclient.New(ctx, settings)
		if err != nil {
			return nil, ioError(fmt.Errorf("registry %s: %w", rawURL, err))
		}
		s3 = client.S3()
		g.log.Debug("S3 client", "region", client.Region(), "endpoint", redactURL(client.Endpoint(awsclient.S3)))
	}
	reg, err := registry.Open(ctx, rawURL, s3, registry.WithMaxDocumentSize(g.maxDocumentSize))
	if err != nil {
		return nil, ioError(err)
	}
	return reg, nil
}

// redactURL hides a password in a URL's user info, so that logs never carry one.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
