// Package cli implements the niiv command line: one file per command, each
// registering itself in commands. Usage errors exit with status 2, failures
// with status 1.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Command is one niiv sub-command.
type Command struct {
	Name    string
	Args    string // positional arguments, e.g. "IN OUT"
	Summary string
	// Short is the one-line description in the command list.
	Short string
	// Flags declares the command's flags on fs and returns the function that
	// runs it with the positional arguments.
	Flags func(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error
	// MinArgs and MaxArgs bound the positional arguments (MaxArgs < 0: any).
	MinArgs, MaxArgs int
}

// Env is what a command may use to talk to the user.
type Env struct {
	Stdout, Stderr io.Writer
}

var commands = map[string]*Command{}

// register adds a command; called from init functions.
func register(c *Command) { commands[c.Name] = c }

// errUsage marks an error caused by wrong usage (exit status 2).
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

// usageErrorf returns an error that makes niiv exit with status 2.
func usageErrorf(format string, a ...any) error { return errUsage{fmt.Sprintf(format, a...)} }

// DefaultCommand runs when niiv is started without a command; the viewer
// sets it so that a bare `niiv` opens the sample.
var DefaultCommand = "view"

// Main runs niiv with args (without the program name) and returns the exit
// status.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := cancelOnSignal()
	defer stop()
	env := &Env{Stdout: stdout, Stderr: stderr}
	if len(args) == 0 {
		if _, ok := commands[DefaultCommand]; ok {
			args = []string{DefaultCommand}
		} else {
			printHelp(stderr)
			return 2
		}
	}
	name := args[0]
	switch name {
	case "-h", "--help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fs := newFlagSet(c)
				c.Flags(fs)
				fs.SetOutput(stdout)
				fs.Usage()
				return 0
			}
		}
		printHelp(stdout)
		return 0
	case "-v", "--version", "version":
		fmt.Fprintln(stdout, "niiv", Version)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		// `niiv FILE` opens FILE in the viewer.
		if looksLikeFile(name) && commands["view"] != nil {
			c, args = commands["view"], append([]string{"view"}, args...)
		} else {
			fmt.Fprintf(stderr, "niiv: unknown command %q\n", name)
			printUsageLine(stderr)
			return 2
		}
	}
	fs := newFlagSet(c)
	run := c.Flags(fs)
	pos, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	}
	if err == nil && (len(pos) < c.MinArgs || (c.MaxArgs >= 0 && len(pos) > c.MaxArgs)) {
		err = usageErrorf("%s takes %s", c.Name, argCount(c))
	}
	if err == nil {
		err = run(ctx, env, pos)
	}
	var ue errUsage
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "niiv %s: %v\nusage: niiv %s [flags] %s  (niiv %s --help)\n", c.Name, err, c.Name, c.Args, c.Name)
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "niiv %s: cancelled\n", c.Name)
		return 130
	default:
		fmt.Fprintf(stderr, "niiv %s: %v\n", c.Name, err)
		return 1
	}
}

// cancelOnSignal returns a context that Ctrl-C (SIGINT) or SIGTERM, as sent
// by timeout(1), kill(1) or a cluster scheduler, cancels: the command stops
// and its writers remove their temporary files, and niiv exits with status
// 130 for either signal. A second signal ends niiv at once, as without
// niiv's handling. stop releases the signals.
func cancelOnSignal() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

func argCount(c *Command) string {
	switch {
	case c.MaxArgs == 0:
		return "no arguments"
	case c.MaxArgs == c.MinArgs:
		return fmt.Sprintf("%s: %s", plural(c.MinArgs, "argument"), c.Args)
	case c.MaxArgs < 0:
		return fmt.Sprintf("at least %s: %s", plural(c.MinArgs, "argument"), c.Args)
	}
	return fmt.Sprintf("%d to %d arguments: %s", c.MinArgs, c.MaxArgs, c.Args)
}

// newFlagSet returns c's flag set. Its usage text goes to the output set
// with SetOutput: nowhere while parsing (the flag package would print it
// for every bad flag; niiv prints the error and a one-line usage instead).
func newFlagSet(c *Command) *flag.FlagSet {
	fs := flag.NewFlagSet("niiv "+c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := fs.Output()
		if w == io.Discard {
			return
		}
		fmt.Fprintf(w, "usage: niiv %s [flags] %s\n\n%s\n", c.Name, c.Args, c.Summary)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nflags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments, as users type them: `niiv degrade in.npy out.npy
// --factor 8`. A lone "--" ends flag parsing.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErrorf("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// fs stopped at a positional argument (or after "--").
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return pos, nil
}

func printUsageLine(w io.Writer) {
	fmt.Fprintln(w, "usage: niiv [command] [flags] [args]   (niiv --help lists the commands)")
}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, "niiv %s: view anisotropic microscopy volumes as if isotropic (neural implicit isotropic volume reconstruction)\n\n", Version)
	printUsageLine(w)
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := commands[n]
		short := c.Short
		if short == "" {
			short = firstLine(c.Summary)
		}
		fmt.Fprintf(w, "  %-12s %s\n", n, short)
	}
	fmt.Fprintln(w, "\n`niiv` alone opens the viewer on the bundled sample; `niiv COMMAND --help` explains a command.")
}

// firstLine returns the first sentence of a command's summary, shortened
// to fit one line of the command list.
func firstLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	const max = 84
	if r := []rune(s); len(r) > max {
		s = strings.TrimRight(string(r[:max-1]), " ,;:") + "…"
	}
	return s
}

// Version is the program version, shown by `niiv --version`.
var Version = "0.1.0"

// plural returns "1 argument" or "2 arguments".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// looksLikeFile reports whether a first argument that is not a command
// names something to open: an existing path, a path (a folder separator
// or a volume file's extension; the viewer then says what is missing), or
// an array of a .npz archive ("x.npz:NAME").
func looksLikeFile(arg string) bool {
	if _, err := os.Stat(arg); err == nil {
		return true
	}
	if i := strings.LastIndex(arg, ":"); i > 0 && strings.EqualFold(filepath.Ext(arg[:i]), ".npz") {
		return true
	}
	switch strings.ToLower(filepath.Ext(arg)) {
	case ".npy", ".npz", ".tif", ".tiff":
		return true
	}
	return strings.ContainsRune(arg, '/') || strings.ContainsRune(arg, filepath.Separator)
}
