#!/usr/bin/perl
# The command line: every flag of wmproxy(8), its exact output and exit
# code. Process behaviour behind the flags is in process.t and signals.t.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;

my $srcdir = $ENV{WM_SRCDIR} // "$FindBin::Bin/..";
my ($version) = do {
    open my $fh, '<', "$srcdir/configure.ac" or die "configure.ac: $!";
    local $/;
    <$fh> =~ /AC_INIT\(\[wmproxy\],\s*\[([^\]]+)\]/;
};
die "no version in configure.ac" unless $version;

sub ok_lines {
    my $f = shift;
    return "wmproxy: the configuration file $f syntax is ok\n"
      . "wmproxy: configuration file $f test is successful\n";
}

# ---- -v, -V ----------------------------------------------------------------

my $r = $t->run('-v');
is($r->{code},   0, '-v exits 0');
is($r->{stderr}, "wmproxy version: wmproxy/$version\n",
    '-v prints "wmproxy version: wmproxy/VERSION" to stderr');
is($r->{stdout}, '', '-v prints nothing on stdout');

$r = $t->run('-V');
is($r->{code}, 0, '-V exits 0');
my @V = split /\n/, $r->{stderr};
is($V[0], "wmproxy version: wmproxy/$version", '-V starts with the version');
my %V;
for my $k ('built with', 'prefix', 'configuration file', 'pid file',
    'error log')
{
    my @m = map { /^\Q$k\E: (.*)$/ ? $1 : () } @V;
    is(scalar @m, 1, "-V has one \"$k:\" line");
    $V{$k} = $m[0] // '';
}
like($V{prefix}, qr{^/}, '-V prefix is absolute');
like($V{'configuration file'}, qr{^/\S*/wmproxy/wmproxy\.conf$},
    '-V configuration file is SYSCONFDIR/wmproxy/wmproxy.conf');
like($V{'pid file'},  qr{^/\S*wmproxy\.pid$}, '-V pid file is absolute');
like($V{'error log'}, qr{^/\S*error\.log$},   '-V error log is absolute');
is($r->{stdout}, '', '-V prints nothing on stdout');

# Without -c, -t reads the compiled-in file that -V names.
$r = $t->run('-t');
my $dconf = $V{'configuration file'};
if (-e $dconf) {
    is($r->{code},   0,                 "-t without -c checks $dconf");
    is($r->{stderr}, ok_lines($dconf), '-t without -c names the default');
} else {
    is($r->{code}, 1, "-t without -c fails: $dconf does not exist");
    like($r->{stderr},
        qr/^wmproxy: configuration file \Q$dconf\E test failed\n\z/m,
        '-t without -c names the compiled-in file');
}

# ---- -h, -?, invalid options ----------------------------------------------

for my $f ('-h', '-?') {
    $r = $t->run($f);
    is($r->{code}, 0, "$f exits 0");
    like($r->{stderr}, qr/\AUsage: wmproxy/, "$f prints the usage to stderr");
    is($r->{stdout}, '', "$f prints nothing on stdout");
}
for my $f (qw(-? -h -v -V -t -T -q -s -p -c -e -g)) {
    like($r->{stderr}, qr/(?:^|[\s,\[])\Q$f\E(?=[\s,:\]])/m,
        "the usage mentions $f");
}

$r = $t->run('-x');
is($r->{code}, 1, 'an unknown flag exits 1');
like($r->{stderr}, qr/\Awmproxy: invalid option: "-x"\n/,
    'an unknown flag: wmproxy: invalid option: "-x"');
like($r->{stderr}, qr/^Usage: wmproxy/m, 'an unknown flag prints the usage');

$r = $t->run('-s', 'foo');
is($r->{code}, 1, '-s foo exits 1');
like($r->{stderr}, qr/\Awmproxy: invalid option: "-s foo"\n/,
    '-s foo: wmproxy: invalid option: "-s foo"');

for my $f ('-s', '-c', '-p', '-g', '-e') {
    $r = $t->run($f);
    is($r->{code}, 1, "$f without its argument exits 1");
    like($r->{stderr}, qr/"\Q$f\E"/, "$f without its argument names it");
}

# ---- --directives ----------------------------------------------------------

$r = $t->run('--directives');
is($r->{code}, 0, '--directives exits 0');
my @D = split /\n/, $r->{stdout};
ok(@D >= 12, '--directives prints a line per directive');
is(scalar(grep { (split /\t/, $_, -1) != 5 } @D), 0,
    'every --directives line has 5 tab-separated fields')
  or diag(join "\n", grep { (split /\t/, $_, -1) != 5 } @D);
is(scalar(grep { my @f = split /\t/; !length($f[4] // '') } @D), 0,
    'every directive has a doc string');
is(scalar(grep { my @f = split /\t/; ($f[1] // '') !~ /^(?:any|[a-z-]+(?:,[a-z-]+)*)$/ } @D), 0,
    'every directive lists its contexts, comma-separated');
# A name listed twice (error_log: main, and http blocks) is checked in its
# first, core line.
my %D;
for (@D) { my @f = split /\t/, $_, -1; $D{ $f[0] } //= \@f; }
my %want = (    # name => [contexts, default]
    worker_processes        => [ 'main',   '1' ],
    worker_rlimit_nofile    => [ 'main',   undef ],
    worker_shutdown_timeout => [ 'main',   undef ],
    daemon                  => [ 'main',   'on' ],
    master_process          => [ 'main',   'on' ],
    pid                     => [ 'main',   $V{'pid file'} ],
    error_log               => [ 'main',   undef ],
    user                    => [ 'main',   'nobody' ],
    events                  => [ 'main',   undef ],
    worker_connections      => [ 'events', '1024' ],
    include                 => [ undef,    undef ],
);
for my $n (sort keys %want) {
    ok($D{$n}, "--directives lists $n") or next;
    my ($ctx, $dflt) = @{ $want{$n} };
    is($D{$n}[1], $ctx,  "--directives: $n is allowed in $ctx") if $ctx;
    is($D{$n}[3], $dflt, "--directives: $n defaults to $dflt") if $dflt;
}
like($D{error_log}[3] // '', qr/^\Q$V{'error log'}\E\b/,
    '--directives: error_log defaults to the -V error log');
is($r->{stderr}, '', '--directives prints nothing on stderr');

# ---- -t, -q ----------------------------------------------------------------

my $conf = $t->write_conf(<<'EOF');
worker_processes 2;
events {
    worker_connections 64;
}
EOF
$r = $t->run('-p', "$P/", '-c', $conf, '-t');
is($r->{code},   0,               '-t of a good config exits 0');
is($r->{stderr}, ok_lines($conf), '-t prints "syntax is ok" and "test is successful"');
is($r->{stdout}, '',              '-t prints nothing on stdout');
ok(!-e $t->pid_path, '-t writes no pid file');

$r = $t->run('-p', "$P/", '-c', $conf, '-q', '-t');
is($r->{code},   0,  '-q -t of a good config exits 0');
is($r->{stderr}, '', '-q -t of a good config prints nothing');

my $bad = $t->write_conf("foo bar;\nevents { }\n", name => 'bad.conf');
$r = $t->run('-p', "$P/", '-c', $bad, '-t');
is($r->{code}, 1, '-t of a bad config exits 1');
is($r->{stderr}, qq{$P/bad.conf:4: "foo" directive is unknown\n}
      . "wmproxy: configuration file $P/bad.conf test failed\n",
    '-t of a bad config prints FILE:LINE: message and "test failed"');

$r = $t->run('-p', "$P/", '-c', $bad, '-q', '-t');
is($r->{code}, 1, '-q -t of a bad config exits 1');
like($r->{stderr}, qr{^\Q$P\E/bad\.conf:4: "foo" directive is unknown$}m,
    '-q -t still prints the error');

$r = $t->run('-p', "$P/", '-c', "$P/missing.conf", '-t');
is($r->{code}, 1, '-t of a missing file exits 1');
like($r->{stderr},
    qr{\A\Q$P\E/missing\.conf:\d+: .*No such file or directory.*\nwmproxy: configuration file \Q$P\E/missing\.conf test failed\n\z},
    '-t of a missing file names it and says why');

# ---- relative -c: from the current directory, not the prefix ----------------

$t->write_file('rel.conf', "no_such_directive;\nevents { }\n");
$t->write_file('sub/rel.conf', $t->header . "events { }\n");
$r = $t->run({ cwd => "$P/sub" }, '-p', "$P/", '-c', 'rel.conf', '-t');
is($r->{code}, 0, 'a relative -c is read from the current directory');
is($r->{stderr}, ok_lines("$P/sub/rel.conf"),
    'a relative -c is reported as an absolute path');

# ---- -T ----------------------------------------------------------------------

$conf = $t->write_conf(<<"EOF", raw => 1, name => 'dump.conf');
daemon off;   # a comment
pid   $P/logs/wmproxy.pid ;
error_log "$P/logs/error.log"   debug;
user "nobody" nogroup;
worker_processes\t2;
include conf.d/*.conf;
events{worker_connections 512;}
EOF
$t->write_file('conf.d/a.conf', "worker_rlimit_nofile 1000;\n");
$t->write_file('conf.d/b.conf', "\n\n  worker_shutdown_timeout 5s;\n");
$r = $t->run('-p', "$P/", '-c', $conf, '-T');
is($r->{code},   0,               '-T of a good config exits 0');
is($r->{stderr}, ok_lines($conf), '-T prints the -t lines on stderr');
(my $dump = $r->{stdout}) =~ s/^\s*\n//mg;
is($dump, <<"EOF", '-T prints the canonical text, includes expanded');
daemon off;
pid $P/logs/wmproxy.pid;
error_log $P/logs/error.log debug;
user nobody nogroup;
worker_processes 2;
worker_rlimit_nofile 1000;
worker_shutdown_timeout 5s;
events {
    worker_connections 512;
}
EOF

# What -T prints parses back to the same text, even with odd arguments.
$conf = $t->write_conf(<<"EOF", raw => 1, name => 'odd.conf');
daemon 'off';
pid "$P/logs/a pid;{}.pid";
error_log "$P/logs/it's \\"quoted\\".log" info;
events { worker_connections 8; }
EOF
$r = $t->run('-p', "$P/", '-c', $conf, '-T');
is($r->{code}, 0, '-T of a config with quoted arguments exits 0');
my $odd = $r->{stdout};
like($odd, qr/^pid (["'])\Q$P\E\/logs\/a pid;\{\}\.pid\1;$/m,
    '-T quotes an argument with a space, ; and braces');
$t->write_file('odd2.conf', $odd);
$r = $t->run('-p', "$P/", '-c', "$P/odd2.conf", '-T');
is($r->{code},   0,    '-T output is a valid config');
is($r->{stdout}, $odd, '-T of the -T output prints the same');

$r = $t->run('-p', "$P/", '-c', $bad, '-T');
is($r->{code},   1,  '-T of a bad config exits 1');
is($r->{stdout}, '', '-T of a bad config prints no config');

# ---- -p: relative paths in the config ----------------------------------------

$conf = $t->write_conf(<<'EOF', raw => 1, name => 'relpaths.conf');
daemon off;
pid logs/rel.pid;
error_log logs/rel.log debug;
events { }
EOF
my $mp = $t->start(prefix => $P, conf => $conf, workers => 1,
    log => 'logs/rel.log', pid_file => "$P/logs/rel.pid");
ok(-e "$P/logs/rel.pid", '-p PREFIX (no trailing /): pid file under it');
like($t->log_text('logs/rel.log'), qr/start worker process \d+/,
    '-p PREFIX: error log under it');
ok(!-e "$P/logs/error.log", 'no other error log was written');
$t->stop if $mp;
ok(!-e "$P/logs/rel.pid", 'the pid file is removed at exit');

# ---- -g ----------------------------------------------------------------------

$conf = $t->write_conf("events { }\n");
$r = $t->run('-p', "$P/", '-c', $conf, '-g', 'worker_processes 3;', '-t');
is($r->{code},   0,               '-t with -g "worker_processes 3;" is ok');
is($r->{stderr}, ok_lines($conf), '-t with -g prints the -t lines');

$mp = $t->start(args => [ '-g', 'worker_processes 3;' ], workers => 3);
is(scalar(my @w = $t->workers), 3, '-g "worker_processes 3;" gives 3 workers');
$t->stop if $mp;

$r = $t->run('-p', "$P/", '-c', $conf, '-g', 'daemon on;', '-t');
is($r->{code}, 1, 'a directive both in -g and the file is an error');
like($r->{stderr}, qr/^(?:command line|\Q$conf\E):\d+: "daemon" directive is duplicate$/m,
    '-g "daemon on;" with daemon in the file: "daemon" directive is duplicate');
like($r->{stderr}, qr/^wmproxy: configuration file \Q$conf\E test failed\n\z/m,
    '-g duplicate: test failed');

$r = $t->run('-p', "$P/", '-c', $conf, '-g', 'pid logs/other.pid;', '-t');
is($r->{code}, 1, '-g "pid ...;" with pid in the file exits 1');
like($r->{stderr}, qr/"pid" directive is duplicate$/m,
    '-g "pid ...;" with pid in the file: "pid" directive is duplicate');

$r = $t->run('-p', "$P/", '-c', $conf, '-g', 'no_such_thing 1;', '-t');
is($r->{code}, 1, '-g with an unknown directive exits 1');
like($r->{stderr}, qr/"no_such_thing" directive is unknown$/m,
    '-g with an unknown directive says so');

# ---- -e ----------------------------------------------------------------------

$t->expect_errors(qr/"foo" directive is unknown/);
$r = $t->run('-p', "$P/", '-c', $bad, '-e', "$P/logs/early.log");
is($r->{code}, 1, 'starting with a bad config exits 1');
like($t->log_text('logs/early.log'),
    qr{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[emerg\] $r->{pid}#0: \Q$P\E/bad\.conf:4: "foo" directive is unknown$}m,
    '-e FILE: the config error is logged there at [emerg]');

$r = $t->run('-p', "$P/", '-c', $bad, '-e', 'stderr');
is($r->{code}, 1, '-e stderr: a bad config exits 1');
like($r->{stderr},
    qr{\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[emerg\] $r->{pid}#0: \Q$P\E/bad\.conf:4: "foo" directive is unknown$}m,
    '-e stderr: the config error is logged to stderr at [emerg]');

# -e also names the error log used when the config has none (level error,
# as nginx's default: a worker killed by a signal is logged there).
$conf = $t->write_conf("daemon off;\npid $P/logs/wmproxy.pid;\nevents { }\n",
    raw => 1, name => 'nolog.conf');
$mp = $t->start(conf => $conf, args => [ '-e', "$P/logs/e.log" ],
    workers => 0);
if ($mp) {
    ok($t->wait_workers(1), '-e FILE without error_log: a worker runs');
    ok(-e "$P/logs/e.log", '-e FILE without error_log: the file is created');
    $t->expect_errors(qr/worker process \d+ exited on signal 9/);
    my ($w) = $t->workers;
    kill 'KILL', $w if $w;
    ok($t->wait_log(qr{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[alert\] $mp#0: worker process $w exited on signal 9$}m,
            file => 'logs/e.log'),
        '-e FILE is the error log when the config names none');
    $t->stop;
}

# ---- -s without a running master ---------------------------------------------

$conf = $t->write_conf("events { }\n");
for my $s (qw(reload reopen stop quit)) {
    $r = $t->run('-p', "$P/", '-c', $conf, '-s', $s);
    is($r->{code}, 1, "-s $s without a pid file exits 1");
    like($r->{stderr}, qr/is wmproxy running\?/,
        "-s $s without a pid file: is wmproxy running?");
}

# A pid file whose process is gone, and one with no number in it.
chomp(my $pid_max = do { open my $fh, '<', '/proc/sys/kernel/pid_max'; <$fh> }
      // 4194304);
for my $content ("$pid_max\n", "garbage\n") {
    $t->write_file('logs/wmproxy.pid', $content);
    (my $what = $content) =~ s/\n//;
    $r = $t->run('-p', "$P/", '-c', $conf, '-s', 'reload');
    is($r->{code}, 1, "-s reload with \"$what\" in the pid file exits 1");
    like($r->{stderr}, qr/is wmproxy running\?/,
        "-s reload with \"$what\" in the pid file: is wmproxy running?");
}
unlink $t->pid_path;

# -s reads the pid file that the config's `pid` names.
$conf = $t->write_conf(
    "daemon off;\npid logs/custom.pid;\nerror_log logs/error.log debug;\n"
      . "events { }\n", raw => 1, name => 'custom.conf');
$mp = $t->start(conf => $conf, pid_file => "$P/logs/custom.pid");
if ($mp) {
    my @w = $t->workers;
    $r = $t->run('-p', "$P/", '-c', $conf, '-s', 'quit');
    is($r->{code}, 0, '-s quit with pid logs/custom.pid exits 0');
    ok($t->wait_gone($mp, @w), '-s quit reaches the master named in logs/custom.pid');
    is($t->exit_status($mp), 0, 'the master exits with status 0');
}

$t->done;
