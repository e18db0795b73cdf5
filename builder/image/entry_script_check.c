#include "builder/image/entry_script_check.h"

#include "common/buf.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run with `python3 -I -c CHECKER SCRIPT`. Exit 0: fine; 1: the one line it printed is the problem.
 * Any other exit means this Python could not run the check (too old, broken): the check is skipped. */
static const char checker[] =
    "import ast, sys\n"
    "path = sys.argv[1]\n"
    "def fail(line, msg):\n"
    "    print('%s:%d: %s' % (path, line, msg) if line else '%s: %s' % (path, msg))\n"
    "    sys.exit(1)\n"
    "try:\n"
    "    src = open(path, 'rb').read()\n"
    "except OSError as e:\n"
    "    fail(0, 'cannot read it: %s' % e.strerror)\n"
    "try:\n"
    "    tree = ast.parse(src, path)\n"
    "except SyntaxError as e:\n"
    "    fail(e.lineno or 0, 'syntax error: %s (checked with Python %d.%d)' % (e.msg, *sys.version_info[:2]))\n"
    "except ValueError as e:\n"
    "    fail(0, 'not Python source: %s' % e)\n"
    "names = {}\n"
    "def scan(body):\n"
    "    for n in body:\n"
    "        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):\n"
    "            names[n.name] = n\n"
    "        elif isinstance(n, ast.Assign):\n"
    "            for t in n.targets:\n"
    "                if isinstance(t, ast.Name):\n"
    "                    names[t.id] = n\n"
    "        elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.value is not None:\n"
    "            names[n.target.id] = n\n"
    "        elif isinstance(n, (ast.Import, ast.ImportFrom)):\n"
    "            for a in n.names:\n"
    "                names[(a.asname or a.name).split('.')[0]] = n\n"
    "        elif isinstance(n, ast.If):\n"
    "            scan(n.body); scan(n.orelse)\n"
    "        elif isinstance(n, ast.Try):\n"
    "            scan(n.body); scan(n.orelse); scan(n.finalbody)\n"
    "            for h in n.handlers: scan(h.body)\n"
    "        elif isinstance(n, ast.With):\n"
    "            scan(n.body)\n"
    "scan(tree.body)\n"
    "def not_callable(name):\n"
    "    n = names[name]\n"
    "    v = getattr(n, 'value', None)\n"
    "    if isinstance(v, (ast.Constant, ast.List, ast.Dict, ast.Tuple, ast.Set, ast.JoinedStr)):\n"
    "        fail(n.lineno, '%s is not a function: Azure ML calls %s()' % (name, name))\n"
    "run = names.get('run')\n"
    "if run is None:\n"
    "    fail(0, 'no top-level run(): Azure ML calls run() for every scoring request')\n"
    "not_callable('run')\n"
    "if isinstance(run, ast.AsyncFunctionDef):\n"
    "    fail(run.lineno, 'run() is async: Azure ML calls run() as a plain function')\n"
    "if isinstance(run, ast.FunctionDef):\n"
    "    a = run.args\n"
    "    if a.vararg or a.kwarg or getattr(a, 'posonlyargs', []):\n"
    "        fail(run.lineno, 'run() cannot accept positional-only arguments, *args, or **kwargs')\n"
    "    if not [p for p in a.args + a.kwonlyargs if p.arg != 'request_headers']:\n"
    "        fail(run.lineno, 'run() needs to accept an argument for input data')\n"
    "init = names.get('init')\n"
    "if init is not None:\n"
    "    not_callable('init')\n"
    "    if isinstance(init, ast.AsyncFunctionDef):\n"
    "        fail(init.lineno, 'init() is async: Azure ML calls init() as a plain function')\n"
    "    if isinstance(init, ast.FunctionDef):\n"
    "        a = init.args\n"
    "        required = len(a.args) - len(a.defaults) + sum(d is None for d in a.kw_defaults)\n"
    "        if required > 0 or getattr(a, 'posonlyargs', []):\n"
    "            fail(init.lineno, 'init() must work without arguments: Azure ML calls init()')\n";

/* /usr/bin/python3 when it is there (Debian's, which the tests and images use), else python3 on PATH. */
static const char *const candidates[] = {"/usr/bin/python3", "python3"};

/* Runs the checker with one interpreter. Returns its exit status (0, 1, or other for unusable),
 * with its output in out. */
static int run_checker(const char *python, const char *script, struct buf *out)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            dup2(devnull, STDERR_FILENO); /* a broken interpreter's noise is not the script's problem */
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execlp(python, python, "-I", "-c", checker, script, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        buf_append(out, chunk, (size_t)n);
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int entry_script_check(const char *script_path)
{
    int rc = 0;
    struct buf out;
    buf_init(&out, 64 * 1024);
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (candidates[i][0] == '/' && access(candidates[i], X_OK) != 0)
            continue;
        buf_reset(&out);
        int status = run_checker(candidates[i], script_path, &out);
        if (status == 0)
            break;
        if (status == 1) {
            buf_append(&out, "", 1);
            out.data[strcspn(out.data, "\n")] = 0;
            rc = err_set(ERR_INVALID, "%s", out.data[0] ? out.data : "the entry script check failed");
            break;
        }
        /* This interpreter could not run the check: try the next, else skip it. */
    }
    buf_release(&out);
    return rc;
}

int entry_script_check_spec(const struct spec *spec)
{
    return spec->inference.entry_script ? entry_script_check(spec->inference.entry_script) : 0;
}
