#!/usr/bin/perl
# Malformed configurations through `wmproxy -t`: for each, the exact
# `FILE:LINE: message` lines, then `wmproxy: configuration file FILE test
# failed`, exit status 1 and nothing on stdout. Also a few that must pass.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;

# Each case: [ name, text, [ [line, message, tail], ... ], extra files ].
# Line numbers are in `text` itself (written raw). A true `tail` lets the
# message go on with `, ...` (an explanation of valid values).
my @cases = (
    # unknown
    [ 'unknown directive at main level', <<'EOF', [ [ 2, '"foo" directive is unknown' ] ] ],
daemon off;
foo bar;
events { }
EOF
    [ 'unknown directive in events', <<'EOF', [ [ 3, '"bar" directive is unknown' ] ] ],
events {
    worker_connections 10;
    bar;
}
EOF
    [ 'unknown block', <<'EOF', [ [ 2, '"htttp" directive is unknown' ] ] ],
events { }
htttp {
    server { }
}
EOF
    # not allowed here
    [ 'worker_connections outside events', <<'EOF', [ [ 1, '"worker_connections" directive is not allowed here' ] ] ],
worker_connections 10;
events { }
EOF
    [ 'worker_processes inside events', <<'EOF', [ [ 2, '"worker_processes" directive is not allowed here' ] ] ],
events {
    worker_processes 2;
}
EOF
    [ 'events inside events', <<'EOF', [ [ 3, '"events" directive is not allowed here' ] ] ],
events {

    events { }
}
EOF
    # number of arguments
    [ 'daemon without argument', <<'EOF', [ [ 1, '"daemon" directive has invalid number of arguments' ] ] ],
daemon;
events { }
EOF
    [ 'daemon with two arguments', <<'EOF', [ [ 2, '"daemon" directive has invalid number of arguments' ] ] ],
events { }
daemon on off;
EOF
    [ 'error_log with three arguments', <<'EOF', [ [ 1, '"error_log" directive has invalid number of arguments' ] ] ],
error_log logs/a.log debug extra;
events { }
EOF
    [ 'worker_connections without argument', <<'EOF', [ [ 2, '"worker_connections" directive has invalid number of arguments' ] ] ],
events {
    worker_connections;
}
EOF
    [ 'events with an argument', <<'EOF', [ [ 1, '"events" directive has invalid number of arguments' ] ] ],
events x {
}
EOF
    [ 'user with three arguments', <<'EOF', [ [ 1, '"user" directive has invalid number of arguments' ] ] ],
user a b c;
events { }
EOF
    # invalid values
    [ 'worker_processes abc', <<'EOF', [ [ 1, '"worker_processes" directive has invalid value "abc"', 1 ] ] ],
worker_processes abc;
events { }
EOF
    [ 'worker_processes 0', <<'EOF', [ [ 1, '"worker_processes" directive has invalid value "0"', 1 ] ] ],
worker_processes 0;
events { }
EOF
    [ 'daemon maybe', <<'EOF', [ [ 1, '"daemon" directive has invalid value "maybe"', 1 ] ] ],
daemon maybe;
events { }
EOF
    [ 'master_process 1', <<'EOF', [ [ 1, '"master_process" directive has invalid value "1"', 1 ] ] ],
master_process 1;
events { }
EOF
    [ 'worker_connections lots', <<'EOF', [ [ 2, '"worker_connections" directive has invalid value "lots"', 1 ] ] ],
events {
    worker_connections lots;
}
EOF
    [ 'worker_shutdown_timeout 5x', <<'EOF', [ [ 1, '"worker_shutdown_timeout" directive has invalid value "5x"', 1 ] ] ],
worker_shutdown_timeout 5x;
events { }
EOF
    [ 'worker_rlimit_nofile -1', <<'EOF', [ [ 1, '"worker_rlimit_nofile" directive has invalid value "-1"', 1 ] ] ],
worker_rlimit_nofile -1;
events { }
EOF
    # duplicates
    [ 'pid twice', <<'EOF', [ [ 2, '"pid" directive is duplicate' ] ] ],
pid logs/a.pid;
pid logs/b.pid;
events { }
EOF
    [ 'daemon twice', <<'EOF', [ [ 3, '"daemon" directive is duplicate' ] ] ],
daemon on;
events { }
daemon on;
EOF
    [ 'worker_processes twice', <<'EOF', [ [ 2, '"worker_processes" directive is duplicate' ] ] ],
worker_processes 1;
worker_processes auto;
events { }
EOF
    [ 'events twice', <<'EOF', [ [ 2, '"events" directive is duplicate' ] ] ],
events { }
events { }
EOF
    [ 'worker_connections twice', <<'EOF', [ [ 3, '"worker_connections" directive is duplicate' ] ] ],
events {
    worker_connections 1;
    worker_connections 2;
}
EOF
    [ 'user twice', <<'EOF', [ [ 2, '"user" directive is duplicate' ] ] ],
user nobody;
user nobody;
events { }
EOF
    # braces
    [ 'events without closing brace', <<'EOF', [ [ 2, '"events" directive has no closing "}"' ] ] ],
daemon off;
events {
    worker_connections 10;
EOF
    [ 'stray closing brace', <<'EOF', [ [ 2, 'unexpected "}"' ] ] ],
daemon off;
}
events { }
EOF
    [ 'closing brace after a block', <<'EOF', [ [ 3, 'unexpected "}"' ] ] ],
events {
}
}
EOF
    [ 'events without a block', <<'EOF', [ [ 1, '"events" directive has no opening "{"' ] ] ],
events;
EOF
    [ 'daemon with a block', <<'EOF', [ [ 1, '"daemon" directive is not terminated by ";"' ] ] ],
daemon off {
}
events { }
EOF
    # several errors are all reported, in order
    [ 'three errors in one file', <<'EOF',
foo;
events {
    worker_connections x;
}
worker_processes -3;
EOF
        [ [ 1, '"foo" directive is unknown' ],
          [ 3, '"worker_connections" directive has invalid value "x"', 1 ],
          [ 5, '"worker_processes" directive has invalid value "-3"', 1 ] ] ],
    # includes: the error names the included file and its line
    [ 'error in an included file', <<'EOF', [ [ 3, '"foo" directive is unknown', 0, 'inc/b.conf' ] ], { 'inc/a.conf' => "daemon off;\n", 'inc/b.conf' => "\n\nfoo;\n" } ],
events { }
include inc/*.conf;
EOF
    [ 'error in a nested include', <<'EOF', [ [ 2, '"worker_connections" directive is not allowed here', 0, 'n2.conf' ] ], { 'n1.conf' => "# n1\ninclude n2.conf;\n", 'n2.conf' => "daemon off;\nworker_connections 5;\n" } ],
events { }
include n1.conf;
EOF
    [ 'include inside events', <<'EOF', [ [ 1, '"worker_processes" directive is not allowed here', 0, 'ev.conf' ] ], { 'ev.conf' => "worker_processes 2;\n" } ],
events {
    include ev.conf;
}
EOF
);

sub expect_re {
    my ($main, $errs) = @_;
    my $re = '\A';
    for my $e (@$errs) {
        my ($line, $msg, $tail, $file) = @$e;
        $file = defined $file ? "$P/$file" : $main;
        $re .= quotemeta($file) . ':' . (defined $line ? $line : '\d+') . ': '
          . (ref $msg ? "(?:$msg)" : quotemeta($msg))
          . ($tail ? '(?:, [^\n]*)?' : '') . '\n';
    }
    $re .= quotemeta("wmproxy: configuration file $main test failed") . '\n\z';
    return qr/$re/;
}

my $n = 0;
for my $c (@cases) {
    my ($name, $text, $errs, $files) = @$c;
    $n++;
    my $dir = "c$n";
    for my $f (sort keys %{ $files // {} }) {
        $t->write_file("$f", $files->{$f});
    }
    my $main = $t->write_conf($text, raw => 1, name => "$dir.conf");
    my $r    = $t->run('-p', "$P/", '-c', $main, '-t');
    is($r->{code}, 1, "$name: exit 1");
    like($r->{stderr}, expect_re($main, $errs), "$name: message")
      or diag("config:\n$text");
    is($r->{stdout}, '', "$name: nothing on stdout");
}

# The YAML form: the same directive errors with the YAML file's lines, and
# the YAML-only errors (wmproxy.conf(5), YAML FORM) with file and line.
my $any = qr/[^\n]+/;
my @yaml = (
    [ 'YAML: unknown directive', "daemon: off\nfoo: bar\nevents: {}\n", [ [ 2, '"foo" directive is unknown' ] ] ],
    [ 'YAML: not allowed here', "worker_connections: 10\nevents: {}\n", [ [ 1, '"worker_connections" directive is not allowed here' ] ] ],
    [ 'YAML: invalid value', "events: {}\nworker_processes: abc\n", [ [ 2, '"worker_processes" directive has invalid value "abc"', 1 ] ] ],
    [ 'YAML: invalid number of arguments', "events: {}\ndaemon: [on, off]\n", [ [ 2, '"daemon" directive has invalid number of arguments' ] ] ],
    [ 'YAML: unknown directive in a block', "events:\n  worker_connections: 8\n  bar: 1\n", [ [ 3, '"bar" directive is unknown' ] ] ],
    [ 'YAML: duplicate directive in a sequence', "- pid: logs/a.pid\n- pid: logs/b.pid\n- events: {}\n", [ [ 2, '"pid" directive is duplicate' ] ] ],
    [ 'YAML: block directive with an empty value', "daemon: off\nevents:\n", [ [ 2, '"events" directive has no opening "{"' ] ] ],
    [ 'YAML: a key given twice', "daemon: on\nevents: {}\ndaemon: off\n", [ [ 3, $any ] ] ],
    [ 'YAML: an alias', "worker_processes: &n 2\nworker_rlimit_nofile: *n\nevents: {}\n", [ [ undef, $any ] ] ],
    [ 'YAML: a tag', "worker_processes: !!int 2\nevents: {}\n", [ [ 1, $any ] ] ],
    [ 'YAML: a key that is not a scalar', "events: {}\n? [a, b]\n: c\n", [ [ 2, $any ] ] ],
    [ 'YAML: a syntax error', "events:\n  worker_connections: [1\n", [ [ undef, $any ] ] ],
    [ 'YAML: two documents', "events: {}\n---\ndaemon: off\n", [ [ undef, $any ] ] ],
);
for my $c (@yaml) {
    my ($name, $text, $errs) = @$c;
    $n++;
    my $main = $t->write_yaml($text, raw => 1, name => "c$n.yaml");
    my $r    = $t->run('-p', "$P/", '-c', $main, '-t');
    is($r->{code}, 1, "$name: exit 1");
    like($r->{stderr}, expect_re($main, $errs), "$name: message")
      or diag("config:\n$text");
    is($r->{stdout}, '', "$name: nothing on stdout");
}

# Errors outside any one line.
my $main = $t->write_conf("daemon off;\n", raw => 1, name => 'noevents.conf');
my $r = $t->run('-p', "$P/", '-c', $main, '-t');
is($r->{code}, 1, 'no events block: exit 1');
like($r->{stderr},
    qr/\A\Q$main\E(?::\d+)?: no "events" section in configuration\n\Qwmproxy: configuration file $main test failed\E\n\z/,
    'no events block: no "events" section in configuration');

$main = $t->write_conf("user no_such_user_wm;\nevents { }\n", raw => 1,
    name => 'nouser.conf');
$r = $t->run('-p', "$P/", '-c', $main, '-t');
is($r->{code}, 1, 'unknown user: exit 1');
like($r->{stderr}, qr/^\Q$main\E(?::1)?: .*"no_such_user_wm".*\n/m,
    'unknown user: the error names the user');

$main = $t->write_conf("events { }\ninclude nothere.conf;\n", raw => 1,
    name => 'noinc.conf');
$r = $t->run('-p', "$P/", '-c', $main, '-t');
is($r->{code}, 1, 'include of a missing file: exit 1');
like($r->{stderr},
    qr/\A\Q$main\E:2: "include" directive: .*\Q$P\E\/nothere\.conf.*No such file or directory.*\n\Qwmproxy: configuration file $main test failed\E\n\z/,
    'include of a missing file: file:line and the missing path');

$main = $t->write_conf("events { }\ninclude self.conf;\n", raw => 1,
    name => 'self.conf');
$r = $t->run('-p', "$P/", '-c', $main, '-t');
is($r->{code}, 1, 'a file that includes itself: exit 1, no hang');
like($r->{stderr}, qr/^\Q$main\E:2: "include" directive/m,
    'a file that includes itself: the include line is named');

$main = $t->write_conf("daemon off\n", raw => 1, name => 'nosemi.conf');
$r = $t->run('-p', "$P/", '-c', $main, '-t');
is($r->{code}, 1, 'missing ";" at end of file: exit 1');
like($r->{stderr}, qr/\A\Q$main\E:\d+: [^\n]+\n\Qwmproxy: configuration file $main test failed\E\n\z/,
    'missing ";" at end of file: one file:line error');

$main = $t->write_conf("pid \"logs/a.pid;\nevents { }\n", raw => 1,
    name => 'quote.conf');
$r = $t->run('-p', "$P/", '-c', $main, '-t');
is($r->{code}, 1, 'unterminated quote: exit 1');
like($r->{stderr}, qr/\A\Q$main\E:\d+: [^\n]+\n\Qwmproxy: configuration file $main test failed\E\n\z/,
    'unterminated quote: one file:line error');

$t->write_file('bin.conf', "events { }\n\0\xff\xfe;\n");
$r = $t->run('-p', "$P/", '-c', "$P/bin.conf", '-t');
is($r->{code}, 1, 'binary garbage: exit 1');
like($r->{stderr}, qr/^\Q$P\E\/bin\.conf:\d+: /m, 'binary garbage: file:line');

# Configurations that must pass.
mkdir "$P/empty" or die "mkdir: $!";
my @good = (
    [ 'error_log may repeat', "error_log logs/a.log;\nerror_log logs/b.log debug;\nerror_log stderr warn;\nevents { }\n" ],
    [ 'a glob that matches nothing', "events { }\ninclude empty/*.conf;\n" ],
    [ 'a glob in a directory that does not exist (as nginx)', "events { }\ninclude nodir/*.conf;\n" ],
    [ 'every main directive', "worker_processes auto;\nworker_rlimit_nofile 4096;\nworker_shutdown_timeout 10s;\ndaemon off;\nmaster_process on;\npid logs/x.pid;\nuser nobody nogroup;\nevents {\n    worker_connections 4096;\n}\n" ],
    [ 'comments and odd spacing', "# comment\n  worker_processes\t 2 ; # trailing\nevents{worker_connections 16;}\n" ],
);
for my $g (@good) {
    my ($name, $text) = @$g;
    my $f = $t->write_conf($text, raw => 1, name => 'good.conf');
    $r = $t->run('-p', "$P/", '-c', $f, '-t');
    is($r->{code}, 0, "$name: exit 0");
    is($r->{stderr},
        "wmproxy: the configuration file $f syntax is ok\n"
          . "wmproxy: configuration file $f test is successful\n",
        "$name: syntax is ok");
}

$t->done;
