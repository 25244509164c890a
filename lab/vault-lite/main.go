// vault-lite: the lab's Vault dev server, built from HashiCorp Vault v1.21.4's own
// packages but linking only what the lab uses.
//
// What it is. A small main package that does what `vault server -dev` does
// (command/server.go in vault@v1.21.4: DevConfig, createCoreConfig, enableDev,
// startHttpServers) with Vault's real code: vault.NewCore on the in-memory physical
// backend (sdk/physical/inmem), Shamir seal with one key share, the HTTP API
// handler from github.com/hashicorp/vault/http on the listener Vault's own
// command/server package builds, the builtin AWS auth method
// (builtin/credential/aws) and the KV secrets engine
// (github.com/hashicorp/vault-plugin-secrets-kv); also userpass (the lab's tests
// mount it, 3 more packages) and approle (package vault links it anyway).
// Nothing is emulated: every request is served by Vault's core, router, token
// store, policy store, mount table, plugin catalog and the real backends.
//
// Why. `go build github.com/hashicorp/vault` compiles about 2,590 packages (every
// auth method, secrets engine, database plugin, storage backend, the CLI, agent,
// proxy...), about ten minutes on two cores with empty Go caches. Importing only
// core + http + inmem + aws auth + kv needs about 1,660, all of them the same
// versions as the full build (this module pins them like lab/vault-build does).
//
// Command line (the one lab/lib/lifecycle.ts uses; anything else is refused):
//
//	vault server -dev -dev-listen-address=127.0.0.1:8200 -dev-no-store-token
//	    with VAULT_DEV_ROOT_TOKEN_ID=<token> in the environment (or -dev-root-token-id)
//	vault version
//
// As with -dev: storage in memory, initialised with 1 key share and unsealed,
// root token created with the given ID and the generated one revoked, kv v2
// mounted at secret/ (unless -dev-no-kv), HTTP without TLS, SIGINT/SIGTERM stop
// it. Unlike -dev, the root token is never printed, and a root token ID is
// required (a random one nobody can read would be useless).
//
// Mount resolution is the real binary's: "kv" is a core logical backend
// (command/commands.go registers it there), "plugin" is builtin/plugin.Factory,
// and "aws" (auth) is found through the plugin catalog, whose BuiltinRegistry
// here knows aws, userpass, approle (auth) and kv (secrets) only; any other type
// fails as in Vault: "plugin not found in the catalog: <type>".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/armon/go-metrics"
	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-hclog"
	kv "github.com/hashicorp/vault-plugin-secrets-kv"
	"github.com/hashicorp/vault/audit"
	credAppRole "github.com/hashicorp/vault/builtin/credential/approle"
	credAws "github.com/hashicorp/vault/builtin/credential/aws"
	credUserpass "github.com/hashicorp/vault/builtin/credential/userpass"
	"github.com/hashicorp/vault/builtin/plugin"
	"github.com/hashicorp/vault/command/server"
	"github.com/hashicorp/vault/helper/metricsutil"
	"github.com/hashicorp/vault/helper/namespace"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/physical/inmem"
	"github.com/hashicorp/vault/vault"
	"github.com/hashicorp/vault/version"
)

const buildNote = "lab build: core, inmem, aws auth, kv"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return 1
	}
	switch args[0] {
	case "version", "-version", "--version", "-v":
		fmt.Printf("%s (%s)\n", version.GetVersion().FullVersionNumber(true), buildNote)
		return 0
	case "server":
		if err := serve(args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "Error: %s\n", err)
			return 1
		}
		return 0
	case "-h", "-help", "--help", "help":
		fmt.Println(usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q (this %s knows only: server -dev, version)\n%s\n", args[0], buildNote, usage)
		return 1
	}
}

const usage = `Usage: vault server -dev [-dev-listen-address=127.0.0.1:8200] [-dev-root-token-id=ID] [-dev-no-store-token] [-dev-no-kv] [-log-level=info]
       vault version
The root token ID may come from VAULT_DEV_ROOT_TOKEN_ID, the address from VAULT_DEV_LISTEN_ADDRESS.`

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func serve(args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	dev := fs.Bool("dev", false, "run as a dev server (required)")
	listen := fs.String("dev-listen-address", envOr("VAULT_DEV_LISTEN_ADDRESS", "127.0.0.1:8200"), "address the HTTP API listens on")
	rootID := fs.String("dev-root-token-id", os.Getenv("VAULT_DEV_ROOT_TOKEN_ID"), "ID of the root token")
	fs.Bool("dev-no-store-token", false, "accepted for compatibility: this build never stores the token")
	noKV := fs.Bool("dev-no-kv", false, "do not mount kv v2 at secret/")
	logLevel := fs.String("log-level", envOr("VAULT_LOG_LEVEL", "info"), "trace, debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*dev {
		return errors.New("this lab build of Vault runs only as a dev server: pass -dev")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *rootID == "" {
		return errors.New("set VAULT_DEV_ROOT_TOKEN_ID (or -dev-root-token-id): this build never prints a root token")
	}
	level := hclog.LevelFromString(*logLevel)
	if level == hclog.NoLevel {
		return fmt.Errorf("unknown log level %q", *logLevel)
	}
	logger := hclog.NewInterceptLogger(&hclog.LoggerOptions{Level: level, Output: os.Stderr, TimeFormat: "2006-01-02T15:04:05.000Z07:00"})
	logger.Info("proxy environment", "http_proxy_set", os.Getenv("HTTP_PROXY") != "", "https_proxy_set", os.Getenv("HTTPS_PROXY") != "", "no_proxy", os.Getenv("NO_PROXY"))

	// The same configuration `vault server -dev` parses (disable_mlock, one tcp
	// listener without TLS, raw endpoint, ui), with the dev listen address.
	config, err := server.DevConfig("inmem")
	if err != nil {
		return err
	}
	config.Listeners[0].Address = *listen
	config.Listeners[0].Telemetry.UnauthenticatedMetricsAccess = true
	lnConfig := config.Listeners[0]

	backend, err := inmem.NewInmem(nil, logger)
	if err != nil {
		return fmt.Errorf("creating in-memory storage: %w", err)
	}

	inm := metrics.NewInmemSink(10*time.Second, time.Minute)
	metrics.DefaultInmemSignal(inm)

	coreConfig := &vault.CoreConfig{
		RawConfig:    config,
		Physical:     backend,
		StorageType:  "inmem",
		RedirectAddr: "http://" + *listen,
		// Seal nil: vault.CreateCore makes the default Shamir seal, as `-dev` does.
		AuditBackends: map[string]audit.Factory{
			"file":   audit.NewFileBackend,
			"socket": audit.NewSocketBackend,
			"syslog": audit.NewSyslogBackend,
		},
		CredentialBackends: map[string]logical.Factory{
			"plugin": plugin.Factory,
		},
		LogicalBackends: map[string]logical.Factory{
			"plugin": plugin.Factory,
			"kv":     kv.Factory,
		},
		Logger:              logger,
		AllLoggers:          []hclog.Logger{logger},
		LogLevel:            *logLevel,
		DisableMlock:        true,
		EnableUI:            config.EnableUI,
		EnableRaw:           true,
		EnableIntrospection: true,
		DevToken:            *rootID,
		BuiltinRegistry:     labRegistry,
		MetricsHelper:       metricsutil.NewMetricsHelper(inm, false),
		MetricSink:          metricsutil.NewClusterMetricSink("", inm),
	}

	core, err := vault.NewCore(coreConfig)
	if err != nil {
		if vault.IsFatalError(err) {
			return fmt.Errorf("initializing core: %w", err)
		}
		logger.Warn("non-fatal error initializing core", "error", err)
	}

	// The listener Vault builds from the config (tcp, proxy protocol as in -dev).
	ln, props, _, err := server.NewListener(lnConfig, io.Discard, &cli.BasicUi{Writer: os.Stdout, ErrorWriter: os.Stderr})
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *listen, err)
	}
	defer ln.Close()
	if lnConfig.MaxRequestSize == 0 {
		lnConfig.MaxRequestSize = vaulthttp.DefaultMaxRequestSize
	}
	if lnConfig.CustomMaxJSONDepth == 0 {
		lnConfig.CustomMaxJSONDepth = vaulthttp.CustomMaxJSONDepth
	}
	if lnConfig.CustomMaxJSONStringValueLength == 0 {
		lnConfig.CustomMaxJSONStringValueLength = vaulthttp.CustomMaxJSONStringValueLength
	}
	if lnConfig.CustomMaxJSONObjectEntryCount == 0 {
		lnConfig.CustomMaxJSONObjectEntryCount = vaulthttp.CustomMaxJSONObjectEntryCount
	}
	if lnConfig.CustomMaxJSONArrayElementCount == 0 {
		lnConfig.CustomMaxJSONArrayElementCount = vaulthttp.CustomMaxJSONArrayElementCount
	}
	if lnConfig.MaxRequestDuration == 0 {
		lnConfig.MaxRequestDuration = vault.DefaultMaxRequestDuration
	}

	if err := enableDev(core, *rootID, !*noKV); err != nil {
		_ = core.Shutdown()
		return fmt.Errorf("initializing dev mode: %w", err)
	}

	srv := &http.Server{
		Handler: vaulthttp.Handler.Handler(&vault.HandlerProperties{
			Core:           core,
			ListenerConfig: lnConfig,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          logger.StandardLogger(nil),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server stopped", "error", err)
		}
	}()

	banner(*listen, props, !*noKV)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	fmt.Printf("==> Vault shutdown triggered (%s)\n", s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	if err := core.Shutdown(); err != nil {
		return fmt.Errorf("core shutdown: %w", err)
	}
	return nil
}

// enableDev is command/server.go enableDev() of vault v1.21.4 for a Shamir seal
// and non-HA storage: initialise with one key share, unseal, create the root
// token with the requested ID, revoke the generated one, mount kv v2 at secret/.
func enableDev(core *vault.Core, rootID string, mountKV bool) error {
	ctx := namespace.ContextWithNamespace(context.Background(), namespace.RootNamespace)
	init, err := core.Initialize(ctx, &vault.InitParams{
		BarrierConfig: &vault.SealConfig{SecretShares: 1, SecretThreshold: 1, Name: "shamir"},
	})
	if err != nil {
		return err
	}
	key := make([]byte, len(init.SecretShares[0]))
	copy(key, init.SecretShares[0])
	unsealed, err := core.Unseal(key)
	if err != nil {
		return err
	}
	if !unsealed {
		return errors.New("failed to unseal Vault for dev mode")
	}

	req := &logical.Request{
		ID:          "dev-gen-root",
		Operation:   logical.UpdateOperation,
		ClientToken: init.RootToken,
		Path:        "auth/token/create",
		Data: map[string]interface{}{
			"id":                rootID,
			"policies":          []string{"root"},
			"no_parent":         true,
			"no_default_policy": true,
		},
	}
	resp, err := core.HandleRequest(ctx, req)
	if err != nil {
		return fmt.Errorf("failed to create the root token with the requested ID: %w", err)
	}
	if resp == nil || resp.Auth == nil {
		return errors.New("no auth in the response creating the root token")
	}
	root := resp.Auth.ClientToken

	req.ID = "dev-revoke-init-root"
	req.Path = "auth/token/revoke-self"
	req.Data = nil
	if _, err := core.HandleRequest(ctx, req); err != nil {
		return fmt.Errorf("failed to revoke initial root token: %w", err)
	}

	if mountKV {
		resp, err := core.HandleRequest(ctx, &logical.Request{
			Operation:   logical.UpdateOperation,
			ClientToken: root,
			Path:        "sys/mounts/secret",
			Data: map[string]interface{}{
				"type":        "kv",
				"path":        "secret/",
				"description": "key/value secret storage",
				"options":     map[string]string{"version": "2"},
			},
		})
		if err != nil {
			return fmt.Errorf("error creating default KV store: %w", err)
		}
		if resp.IsError() {
			return fmt.Errorf("failed to create default KV store: %w", resp.Error())
		}
	}
	return nil
}

func banner(addr string, props map[string]string, kvMounted bool) {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lp []string
	for _, k := range keys {
		lp = append(lp, fmt.Sprintf("%s: %q", k, props[k]))
	}
	fmt.Printf("==> Vault server configuration (%s):\n\n", buildNote)
	fmt.Printf("%24s: %s\n", "Api Address", "http://"+addr)
	fmt.Printf("%24s: %s\n", "Listener 1", "tcp ("+strings.Join(lp, ", ")+")")
	fmt.Printf("%24s: %s\n", "Storage", "inmem")
	fmt.Printf("%24s: %s\n", "Version", version.GetVersion().FullVersionNumber(false))
	fmt.Printf("%24s: %s\n", "Builtin Plugins", "auth: aws, userpass, approle; secrets: kv")
	fmt.Println()
	fmt.Println("==> Vault server started! Log data will stream in below:")
	fmt.Println()
	fmt.Println("WARNING! dev mode is enabled! Vault is unsealed, in memory, without TLS.")
	if kvMounted {
		fmt.Println("A kv v2 secrets engine is mounted at secret/.")
	}
	fmt.Println("The root token is the VAULT_DEV_ROOT_TOKEN_ID this process was given (not printed).")
	fmt.Println()
}

// labRegistry is the plugin catalog's view of the builtins (the role
// helper/builtinplugins.Registry plays in the full binary): the builtin "aws" auth
// method (plus userpass and approle, see below) and the "kv" secrets engine. Entries are logical.Factory values, which
// builtin/plugin.Factory type-asserts when it runs a builtin.
var labRegistry = &registry{
	credential: map[string]logical.Factory{
		"aws":      credAws.Factory,
		"userpass": credUserpass.Factory, // the lab's tests mount it to occupy a path (3 packages)
		"approle":  credAppRole.Factory,  // linked by package vault anyway: free
	},
	secrets: map[string]logical.Factory{"kv": kv.Factory},
}

type registry struct {
	credential map[string]logical.Factory
	secrets    map[string]logical.Factory
}

func (r *registry) table(t consts.PluginType) map[string]logical.Factory {
	switch t {
	case consts.PluginTypeCredential:
		return r.credential
	case consts.PluginTypeSecrets:
		return r.secrets
	}
	return nil
}

func (r *registry) Get(name string, t consts.PluginType) (func() (interface{}, error), bool) {
	f, ok := r.table(t)[name]
	if !ok {
		return nil, false
	}
	return func() (interface{}, error) { return f, nil }, true
}

func (r *registry) Keys(t consts.PluginType) []string {
	var keys []string
	for k := range r.table(t) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (r *registry) Contains(name string, t consts.PluginType) bool {
	_, ok := r.table(t)[name]
	return ok
}

func (r *registry) DeprecationStatus(name string, t consts.PluginType) (consts.DeprecationStatus, bool) {
	if r.Contains(name, t) {
		return consts.Supported, true
	}
	return consts.Unknown, false
}

func (r *registry) IsBuiltinEntPlugin(string, consts.PluginType) bool { return false }
