package WmTest;

=head1 NAME

WmTest - harness for the wmproxy integration tests (t/*.t)

=head1 SYNOPSIS

    use FindBin;
    use lib "$FindBin::Bin/lib";
    use Test::More;
    use WmTest;

    my $t = WmTest->new(timeout => 60);     # temp prefix, alarm
    my $port = $t->port;                     # free loopback port
    $t->write_conf(<<"EOF");                 # header + this text
    worker_processes 2;
    events { }
    stream { server { listen 127.0.0.1:$port; return "hi\n"; } }
    EOF
    $t->start(workers => 2, ports => [$port]);   # one check
    is($t->talk($port), "hi\n", 'answers');
    $t->reload(workers => 2);                    # one check
    my $r = $t->run('-p', $t->prefix, '-c', $t->conf_path, '-t');
    is($r->{code}, 0, '-t');
    $t->done;                                    # stop, log checks, plan

=head1 DESCRIPTION

Each test makes one WmTest object. It owns a temporary prefix directory
(mode 0755 so that workers dropped to C<nobody> can read it) with

    PREFIX/logs/   error logs and the pid file (0755, opened by the master)
    PREFIX/san/    ASan/UBSan reports (01777: workers run as nobody)
    PREFIX/run/    captured stdout/stderr of every process started

The binary is C<$ENV{WM_BINARY}> (the test is skipped when it is not
executable). Every process started gets
C<ASAN_OPTIONS=detect_leaks=1:log_path=PREFIX/san/asan> and
C<UBSAN_OPTIONS=print_stacktrace=1:log_path=PREFIX/san/ubsan>, with any
values already in the environment appended (so they win).

The object stops only processes it started, by pid. C<done> (or, if the
test dies, an END block) stops whatever still runs and then fails the test
when an error log has an C<[alert]> or C<[emerg]> line that the test did not
declare with C<expect_errors>, or when a sanitizer report exists (a file in
san/, or C<runtime error:>, C<AddressSanitizer>, C<LeakSanitizer> in a
captured stderr or an error log). Then it removes the prefix, unless
C<WM_KEEP=1> is set.

=head2 Constructor and paths

=over

=item new(timeout => SECONDS)

Creates the prefix and arms C<alarm> (default 60 s): on expiry the test
fails, everything is stopped and the script exits.

=item prefix, binary, conf_path, error_log_path, pid_path, path(REL)

Absolute paths. C<conf_path> is the last file written by C<write_conf> or
C<write_yaml>.

=item port

A free loopback TCP port (bind port 0, read it, close), never the same
twice in one test. C<udp_port> does the same for UDP.

=back

=head2 Configuration

=over

=item header

The text put in front of configs:
C<daemon off; pid PREFIX/logs/wmproxy.pid; error_log PREFIX/logs/error.log debug;>
(three lines, so a test's line N is file line N + 3).

=item write_conf(TEXT, name => 'wmproxy.conf', raw => 0)

Writes header . TEXT (or TEXT alone with C<raw>) into the prefix and returns
the absolute path.

=item write_yaml(TEXT, name => 'wmproxy.yaml', raw => 0)

The same for YAML: the header is the YAML form of the three directives.

=item write_file(REL, TEXT)

Writes any file below the prefix (directories made as needed, mode 0644).

=back

=head2 Processes

=over

=item start(workers => N, ports => [...], args => [...], conf => PATH,
daemon => 0, wait => 1, pid_file => PATH, log => REL, prefix => ARG)

Runs C<BINARY -p PREFIX/ -c CONF ARGS> and (unless C<wait =E<gt> 0>, then
it returns the spawned pid and C<wait_ready(SAME OPTIONS)> does the rest)
waits (10 s) until the pid file
holds the master's pid (the spawned pid unless C<daemon>), N more
C<start worker process> lines are in the error log and the master has N
live children (N defaults to 1; 0 for C<master_process off>), and each port
accepts a connection. C<log> names the error log to watch (default
logs/error.log), C<prefix> replaces the C<-p> argument. One check. Returns
the master pid.

=item master_pid, workers (live children of the master, sorted),
children(PID), alive(PID), proc_stat(PID)

=item read_pid([PATH]), exit_status(PID), start_output

The pid in the pid file; the wait status of a child we started once it
exited (undef before); C<{stdout, stderr}> of the last C<start>.

=item section(NAME, CODE)

Runs CODE as a C<subtest>; if it dies, that is one failed check, and
whatever it left running is stopped so the next section starts clean. A
section returns early (C<< $t->start(...) or return; >>) when its server
did not start.

=item signal(NAME [, PID])

Sends a signal to the master (or PID).

=item reload(workers => N, via => 'signal'|'command', keep_old => 0)

HUP (or C<-s reload>) and waits until N workers exist that were not there
before and (unless keep_old) all old ones are gone. One check. Returns the
new worker pids.

=item wait_workers(N [, timeout]), wait_gone(PID... [, timeout => S])

=item stop(signal => 'QUIT', timeout => 10)

Signals the master and waits until it and its workers are gone (then KILL
and fail). One check (exit status 0 when the master is our child).
Returns the wait status (or undef for a daemon).

=item run([{cwd => DIR, timeout => S, env => {...}, bin => PATH},] ARGS)

Runs the binary with ARGS and returns C<{code, signal, stdout, stderr, pid}>.

=item conf_rejected(TEXT, LINE, REGEX, NAME)

Writes header . TEXT as PREFIX/bad.conf (C<conf_path> is left alone),
runs C<-t> on it and checks that it fails and that stderr has
C<PREFIX/bad.conf:LINE: > followed by a match of REGEX. Two checks.

=back

=head2 Logs and clients

=over

=item log_text(REL = 'logs/error.log'), log_size(REL), log_since(OFFSET)

=item wait_log(REGEX, from => OFFSET, timeout => 10, file => REL)

True when a line matching REGEX appears after OFFSET.

=item expect_errors(REGEX...)

Declares C<[alert]>/C<[emerg]> lines the test provokes on purpose.

=item talk(PORT, SEND = '', timeout => 5)

Connects to 127.0.0.1:PORT, writes SEND, half-closes, and returns all
bytes read until EOF; undef when the connection failed (C<$!> kept).

=item wait_until(CODE, TIMEOUT), listen_inode(PORT), fd_inodes(PID)

C<listen_inode> finds the inode of the TCP socket listening on
127.0.0.1:PORT (from /proc/net/tcp); C<fd_inodes> lists the socket inodes
a process holds (/proc/PID/fd).

=item done

Stops everything, runs the log and sanitizer checks, removes the prefix and
calls C<done_testing>.

=back

=cut

use strict;
use warnings;

use Cwd qw(realpath);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

our @LIVE;    # objects not yet done, for the END block

sub new {
    my ($class, %o) = @_;

    my $bin = $ENV{WM_BINARY};
    plan skip_all => 'WM_BINARY is not set or not executable'
      unless defined $bin && -x $bin;

    my $dir = tempdir('wmtest-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    $dir = realpath($dir);
    chmod 0755, $dir or die "chmod $dir: $!";
    for my $d ('logs', 'run') {
        mkdir "$dir/$d", 0755 or die "mkdir $dir/$d: $!";
        chmod 0755, "$dir/$d";
    }
    mkdir "$dir/san" or die "mkdir $dir/san: $!";
    chmod 01777, "$dir/san";

    my $self = bless {
        bin      => $bin,
        prefix   => $dir,
        timeout  => $o{timeout} // 60,
        ports    => {},
        expected => [],
        procs    => {},    # pid => 1 for every master we started
        spawned  => {},    # pid => 1 for our own children not yet reaped
        status   => {},    # pid => wait status of reaped children
        nrun     => 0,
        done     => 0,
    }, $class;
    push @LIVE, $self;

    $SIG{PIPE} = 'IGNORE';
    $SIG{ALRM} = sub {
        fail("test timed out after $self->{timeout} s");
        exit 255;    # END stops the processes and cleans up
    };
    alarm $self->{timeout};
    return $self;
}

sub prefix         { $_[0]{prefix} }
sub binary         { $_[0]{bin} }
sub path           { "$_[0]{prefix}/$_[1]" }
sub conf_path      { $_[0]{conf} }
sub error_log_path { "$_[0]{prefix}/logs/error.log" }
sub pid_path       { "$_[0]{prefix}/logs/wmproxy.pid" }
sub master_pid     { $_[0]{master} }

# ---- ports -----------------------------------------------------------------

# A port for a server of the test, free when asked for. It is taken
# below the kernel's ephemeral range (ip_local_port_range), where no
# connect() of any process on the machine (another test's clients, a
# proxy's upstream sockets) can take it while the test runs, at random so
# that tests running at once seldom pick the same; without room there,
# from the ephemeral range (port 0).
my ($EPHEMERAL_LOW) = do {
    open my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range';
    ($fh ? <$fh> : '') =~ /^(\d+)/;
};
$EPHEMERAL_LOW //= 0;

sub _free_port {
    my ($self, $proto) = @_;
    my $low = 10000;
    my $span = $EPHEMERAL_LOW - $low;
    for my $try (1 .. 200) {
        my $want = $span >= 1000 && $try <= 150 ? $low + int(rand($span)) : 0;
        next if $want && $self->{ports}{$want};
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1',
            LocalPort => $want,
            Proto     => $proto,
            $proto eq 'tcp' ? (Listen => 1) : (),
        ) or ($want ? next : die "bind 127.0.0.1:0: $!");
        my $p = $s->sockport;
        close $s;
        next if $self->{ports}{$p}++;
        return $p;
    }
    die "no free port";
}

sub port     { $_[0]->_free_port('tcp') }
sub udp_port { $_[0]->_free_port('udp') }

# ---- configuration ---------------------------------------------------------

sub header {
    my $self = shift;
    my $p    = $self->{prefix};
    return "daemon off;\npid $p/logs/wmproxy.pid;\n"
      . "error_log $p/logs/error.log debug;\n";
}

sub yaml_header {
    my $self = shift;
    my $p    = $self->{prefix};
    return "daemon: \"off\"\npid: $p/logs/wmproxy.pid\n"
      . "error_log: [$p/logs/error.log, debug]\n";
}

sub write_file {
    my ($self, $rel, $text) = @_;
    my $path = $rel =~ m{^/} ? $rel : "$self->{prefix}/$rel";
    (my $dir = $path) =~ s{/[^/]*$}{};
    make_path($dir, { mode => 0755 }) unless -d $dir;
    open my $fh, '>', $path or die "write $path: $!";
    print $fh $text;
    close $fh or die "close $path: $!";
    chmod 0644, $path;
    return $path;
}

sub write_conf {
    my ($self, $text, %o) = @_;
    my $path = $self->write_file($o{name} // 'wmproxy.conf',
        ($o{raw} ? '' : $self->header) . $text);
    $self->{conf} = $path;
    return $path;
}

sub write_yaml {
    my ($self, $text, %o) = @_;
    my $path = $self->write_file($o{name} // 'wmproxy.yaml',
        ($o{raw} ? '' : $self->yaml_header) . $text);
    $self->{conf} = $path;
    return $path;
}

sub expect_errors {
    my ($self, @re) = @_;
    push @{ $self->{expected} }, @re;
}

# ---- /proc -----------------------------------------------------------------

sub proc_stat {
    my ($self, $pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return;
    my $s = <$fh> // '';
    close $fh;
    $s =~ /^(\d+) \((.*)\) (\S) (\d+) (\d+) (\d+)/s or return;
    return { pid => $1, comm => $2, state => $3, ppid => $4, pgrp => $5,
        sid => $6 };
}

sub _reap {
    my $self = shift;
    for my $pid (keys %{ $self->{spawned} }) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid || $r == -1) {
            $self->{status}{$pid} = $r == $pid ? $? : -1;
            delete $self->{spawned}{$pid};
        }
    }
}

sub alive {
    my ($self, $pid) = @_;
    return 0 unless $pid;
    $self->_reap;
    my $st = $self->proc_stat($pid) or return 0;
    return $st->{state} ne 'Z' && $st->{state} ne 'X';
}

sub children {
    my ($self, $ppid) = @_;
    return () unless $ppid;
    my @kids;
    opendir my $dh, '/proc' or die "/proc: $!";
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        my $st = $self->proc_stat($pid) or next;
        next unless $st->{ppid} == $ppid;
        next if $st->{state} eq 'Z' || $st->{state} eq 'X';
        next if $st->{comm} =~ /symbolizer|addr2line/;
        push @kids, $pid + 0;
    }
    closedir $dh;
    @kids = sort { $a <=> $b } @kids;
    return @kids;    # a count in scalar context
}

sub workers { my $self = shift; $self->children($self->{master}) }

sub fd_inodes {
    my ($self, $pid) = @_;
    my @ino;
    opendir my $dh, "/proc/$pid/fd" or return ();
    for my $fd (readdir $dh) {
        my $l = readlink "/proc/$pid/fd/$fd" // next;
        push @ino, $1 if $l =~ /^socket:\[(\d+)\]$/;
    }
    closedir $dh;
    return @ino;
}

sub listen_inode {
    my ($self, $port) = @_;
    my $want = sprintf '0100007F:%04X', $port;
    open my $fh, '<', '/proc/net/tcp' or return;
    while (my $l = <$fh>) {
        my @f = split ' ', $l;
        next unless @f > 9 && $f[1] eq $want && $f[3] eq '0A';
        return $f[9];
    }
    return;
}

# ---- polling ---------------------------------------------------------------

sub wait_until {
    my ($self, $cond, $timeout) = @_;
    my $end = time + ($timeout // 10);
    while (1) {
        my $r = $cond->();
        return $r if $r;
        return 0 if time > $end;
        sleep 0.05;
    }
}

sub wait_workers {
    my ($self, $n, $timeout) = @_;
    return $self->wait_until(sub { $self->workers == $n }, $timeout);
}

sub wait_gone {
    my ($self, @pids) = @_;
    my $timeout = 10;
    if (@pids >= 2 && $pids[-2] eq 'timeout') {
        $timeout = pop @pids;
        pop @pids;
    }
    return $self->wait_until(sub { !grep { $self->alive($_) } @pids },
        $timeout);
}

# ---- logs ------------------------------------------------------------------

sub log_text {
    my ($self, $rel) = @_;
    my $path = "$self->{prefix}/" . ($rel // 'logs/error.log');
    open my $fh, '<', $path or return '';
    local $/;
    my $s = <$fh>;
    return $s // '';
}

sub log_size {
    my ($self, $rel) = @_;
    return -s ("$self->{prefix}/" . ($rel // 'logs/error.log')) // 0;
}

sub log_since {
    my ($self, $off, $rel) = @_;
    my $s = $self->log_text($rel);
    return length($s) > ($off // 0) ? substr($s, $off // 0) : '';
}

sub wait_log {
    my ($self, $re, %o) = @_;
    return $self->wait_until(
        sub { $self->log_since($o{from}, $o{file}) =~ $re },
        $o{timeout} // 10);
}

# ---- running the binary ----------------------------------------------------

sub _san_env {
    my $self = shift;
    my $san  = "$self->{prefix}/san";
    my %e    = (
        ASAN_OPTIONS  => "detect_leaks=1:log_path=$san/asan",
        UBSAN_OPTIONS => "print_stacktrace=1:log_path=$san/ubsan",
    );
    for my $k (keys %e) {
        $e{$k} .= ":$ENV{$k}" if defined $ENV{$k} && length $ENV{$k};
    }
    return %e;
}

sub _spawn {
    my ($self, $argv, %o) = @_;
    my $n   = ++$self->{nrun};
    my $out = "$self->{prefix}/run/$n.stdout";
    my $err = "$self->{prefix}/run/$n.stderr";
    my %env = ($self->_san_env, %{ $o{env} // {} });

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        alarm 0;
        for my $s (keys %SIG) {
            next if $s =~ /^__/;
            local $@;
            eval { $SIG{$s} = 'DEFAULT' };
        }
        open STDIN,  '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>', $err or POSIX::_exit(126);
        if ($o{cwd}) {
            chdir $o{cwd} or do {
                print STDERR "chdir $o{cwd}: $!\n";
                POSIX::_exit(126);
            };
        }
        @ENV{ keys %env } = values %env;
        { no warnings 'exec'; exec { $argv->[0] } @$argv; }
        print STDERR "exec $argv->[0]: $!\n";
        POSIX::_exit(127);
    }
    $self->{spawned}{$pid} = 1;
    return ($pid, $out, $err);
}

sub _slurp {
    my $path = shift;
    open my $fh, '<', $path or return '';
    local $/;
    my $s = <$fh>;
    return $s // '';
}

sub run {
    my $self = shift;
    my %o    = ref $_[0] eq 'HASH' ? %{ shift() } : ();
    my ($pid, $out, $err) =
      $self->_spawn([ $o{bin} // $self->{bin}, @_ ], %o);
    my $done = $self->wait_until(
        sub { $self->_reap; !exists $self->{spawned}{$pid} },
        $o{timeout} // 10);
    unless ($done) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
        delete $self->{spawned}{$pid};
        fail("wmproxy @_ did not exit within " . ($o{timeout} // 10)
              . " s");
        $self->{status}{$pid} = $?;
    }
    my $st = $self->{status}{$pid};
    return {
        pid    => $pid,
        code   => $st == -1 ? -1 : $st >> 8,
        signal => $st == -1 ? 0  : $st & 127,
        stdout => _slurp($out),
        stderr => _slurp($err),
    };
}

sub conf_rejected {
    my ($self, $text, $line, $re, $name) = @_;
    my $keep = $self->{conf};
    my $conf = $self->write_conf($text, name => 'bad.conf');
    $self->{conf} = $keep;
    my $r = $self->run('-p', "$self->{prefix}/", '-c', $conf, '-t');
    isnt($r->{code}, 0, "-t fails: $name");
    like($r->{stderr}, qr/^\Q$conf\E:$line: .*$re/m, "-t says why: $name")
      or diag($r->{stderr});
}

sub _read_pid {
    my ($self, $path) = @_;
    my $s = _slurp($path);
    return $s =~ /^(\d+)\n?$/ ? $1 + 0 : undef;
}

sub read_pid {
    my ($self, $path) = @_;
    return $self->_read_pid($path // $self->pid_path);
}

sub exit_status {
    my ($self, $pid) = @_;
    $self->_reap;
    return $self->{status}{$pid};
}

sub start_output {
    my $self = shift;
    my $s    = $self->{last_start} or return {};
    return { stdout => _slurp($s->{stdout}), stderr => _slurp($s->{stderr}) };
}

sub _count_starts {
    my ($self, $off, $rel) = @_;
    my @n = $self->log_since($off, $rel) =~ /start worker process \d+/g;
    return scalar @n;
}

sub start {
    my ($self, %o) = @_;
    my $conf = $o{conf} // $self->{conf} // die "no config written";
    my @argv =
      ($self->{bin}, '-p', $o{prefix} // "$self->{prefix}/", '-c', $conf,
        @{ $o{args} // [] });

    my $off = $self->log_size($o{log});
    my ($pid, $out, $err) = $self->_spawn(\@argv, %o);
    $self->{procs}{$pid} = 1;
    $self->{last_start} = { pid => $pid, stdout => $out, stderr => $err,
        off => $off, conf => $conf };
    delete $self->{master};
    return $pid if defined $o{wait} && !$o{wait};
    return $self->wait_ready(%o);
}

sub wait_ready {
    my ($self, %o) = @_;
    my ($pid, $err, $off, $conf) =
      @{ $self->{last_start} }{qw(pid stderr off conf)};
    my $nworkers = $o{workers} // 1;
    my $pidfile  = $o{pid_file} // $self->pid_path;

    my $why = '';
    my $ok  = $self->wait_until(
        sub {
            $self->_reap;
            if (!$o{daemon} && !exists $self->{spawned}{$pid}) {
                $why = sprintf 'wmproxy exited (status %d) before it was '
                  . 'ready', $self->{status}{$pid};
                return -1;
            }
            if ($o{daemon} && !exists $self->{spawned}{$pid}
                && $self->{status}{$pid} != 0)
            {
                $why = "wmproxy -c $conf (daemon) exited with status "
                  . $self->{status}{$pid};
                return -1;
            }
            my $mp = $self->_read_pid($pidfile);
            $why = "pid file $pidfile has no pid";
            return 0 unless $mp;
            $why = "pid file has $mp, not the pid $pid started";
            return 0 if !$o{daemon} && $mp != $pid;
            $why = "pid file has $mp, which is not running";
            return 0 unless $self->alive($mp);
            $self->{master} = $mp;
            $self->{procs}{$mp} = 1;
            if ($nworkers) {
                my $s = $self->_count_starts($off, $o{log});
                $why = "$s of $nworkers 'start worker process' lines";
                return 0 if $s < $nworkers;
                my $w = () = $self->workers;
                $why = "the master has $w children, not $nworkers";
                return 0 if $w != $nworkers;
            }
            for my $p (@{ $o{ports} // [] }) {
                $why = "port $p does not accept connections";
                my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p",
                    Timeout => 0.5) or return 0;
                close $s;
            }
            return 1;
        },
        $o{timeout} // 10);

    if ($ok != 1) {
        fail("wmproxy started ($nworkers workers)");
        diag("not ready: $why");
        diag("stderr: " . _slurp($err)) if -s $err;
        diag("error log:\n" . $self->log_since($off, $o{log}));
        # Stop what did start, so that it cannot disturb later checks.
        for my $p (grep { $_ && $self->alive($_) } $pid, $self->{master}) {
            my @w = $self->children($p);
            kill 'KILL', $p, @w;
            $self->wait_gone($p, @w, timeout => 5);
        }
        $self->_reap;
        delete $self->{master};
        return;
    }
    pass("wmproxy started ($nworkers workers)");
    return $self->{master};
}

sub section {
    my ($self, $name, $code) = @_;
    subtest $name => sub {
        my $ok = eval { $code->(); 1 };
        fail("$name: died: $@") unless $ok;
        # Leave nothing running for the next section.
        if (grep { $self->alive($_) } keys %{ $self->{procs} }) {
            diag("$name: stopping what still runs");
            $self->_stop_all;
        }
        delete $self->{master};
        pass("$name: done") unless Test::More->builder->current_test;
    };
}

sub signal {
    my ($self, $sig, $pid) = @_;
    $pid //= $self->{master};
    return kill($sig, $pid) if $pid;
    return 0;
}

sub reload {
    my ($self, %o) = @_;
    my $n   = $o{workers} // 1;
    my %old = map { $_ => 1 } $self->workers;
    if (($o{via} // 'signal') eq 'command') {
        my $r = $self->run('-p', "$self->{prefix}/", '-c', $self->{conf},
            '-s', 'reload');
        unless ($r->{code} == 0) {
            fail("wmproxy -s reload");
            diag("exit $r->{code}, stderr: $r->{stderr}");
            return;
        }
    } else {
        $self->signal('HUP');
    }
    my @new;
    my $ok = $self->wait_until(
        sub {
            my @w = $self->workers;
            @new = grep { !$old{$_} } @w;
            return 0 unless @new == $n;
            return 1 if $o{keep_old};
            return !grep { $old{$_} } @w;
        },
        $o{timeout} // 10);
    ok($ok, "reload: $n new workers" . ($o{keep_old} ? '' : ', old gone'))
      or diag("workers now: @{[ $self->workers ]}, before: "
          . join(' ', sort keys %old));
    return @new;
}

sub stop {
    my ($self, %o) = @_;
    my $sig = $o{signal} // 'QUIT';
    my $mp  = $self->{master};
    unless ($mp) {
        fail("stop: no master running");
        return;
    }
    my @w = $self->workers;
    kill $sig, $mp;
    my $gone = $self->wait_gone($mp, @w, timeout => $o{timeout} // 10);
    my $st;
    if ($gone) {
        $self->_reap;
        $st = $self->{status}{$mp};
    }
    my $name = "stopped with SIG$sig";
    if (!$gone) {
        fail($name);
        diag("still running: "
              . join(' ', grep { $self->alive($_) } $mp, @w));
        kill 'KILL', grep { $self->alive($_) } $mp, @w;
        $self->wait_gone($mp, @w, timeout => 5);
    } elsif (defined $st && $st != 0) {
        fail($name);
        diag(sprintf 'master exit status %d (signal %d)', $st >> 8,
            $st & 127);
    } else {
        pass($name);
    }
    delete $self->{master};
    return $st;
}

# ---- clients ---------------------------------------------------------------

sub talk {
    my ($self, $port, $send, %o) = @_;
    my $timeout = $o{timeout} // 5;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Timeout => $timeout) or return undef;
    if (defined $send && length $send) {
        print $s $send;
    }
    shutdown($s, 1) unless $o{keep_open};
    my $buf = '';
    my $end = time + $timeout;
    my $rin = '';
    vec($rin, fileno($s), 1) = 1;
    while (time < $end) {
        my $n = select(my $rout = $rin, undef, undef, $end - time);
        last unless $n;
        my $r = sysread($s, $buf, 65536, length $buf);
        last unless $r;
    }
    close $s;
    return $buf;
}

# ---- the end ---------------------------------------------------------------

sub _stop_all {
    my $self = shift;
    for my $mp (grep { $self->alive($_) } keys %{ $self->{procs} }) {
        my @w = $self->children($mp);
        kill 'QUIT', $mp;
        unless ($self->wait_gone($mp, @w, timeout => 10)) {
            fail("wmproxy $mp still running at the end: killed");
            kill 'KILL', grep { $self->alive($_) } $mp, @w;
            $self->wait_gone($mp, @w, timeout => 5);
        }
    }
    for my $pid (keys %{ $self->{spawned} }) {
        kill 'KILL', $pid if $self->alive($pid);
        waitpid $pid, 0;
        delete $self->{spawned}{$pid};
    }
}

sub _files {
    my ($dir) = @_;
    opendir my $dh, $dir or return ();
    my @f = map { "$dir/$_" } grep { -f "$dir/$_" } readdir $dh;
    closedir $dh;
    return sort @f;
}

sub _check {
    my $self = shift;
    my $p    = $self->{prefix};
    my (@bad, @san);

    for my $f (_files("$p/logs")) {
        next if $f =~ /\.pid$/;
        for my $l (split /\n/, _slurp($f)) {
            if ($l =~ /\[(?:alert|emerg)\]/
                && !grep { $l =~ $_ } @{ $self->{expected} })
            {
                push @bad, "$f: $l";
            }
            push @san, "$f: $l"
              if $l =~ /runtime error:|AddressSanitizer|LeakSanitizer/;
        }
    }
    for my $f (_files("$p/run")) {
        for my $l (split /\n/, _slurp($f)) {
            push @san, "$f: $l"
              if $l =~ /runtime error:|AddressSanitizer|LeakSanitizer/;
        }
    }
    my $logs = join '', map { _slurp($_) } _files("$p/logs");
    for my $f (_files("$p/san")) {
        my @l = split /\n/, _slurp($f);
        splice @l, 60 if @l > 60;
        # Say which process it was, from the error logs.
        my ($pid) = $f =~ /\.(\d+)$/;
        my $who = '';
        if ($pid && $logs =~ /(\d+)#0: start worker process $pid$/m) {
            $who = " (a worker of master $1";
            my @last = $logs =~ /^.*\b$pid#0: (.*)$/mg;
            $who .= @last ? ", its last log line: \"$last[-1]\")" : ')';
        }
        push @san, "$f$who:", @l;
    }
    ok(!@bad, 'no unexpected [alert] or [emerg] in the error logs')
      or diag(join "\n", @bad);
    ok(!@san, 'no sanitizer reports') or diag(join "\n", @san);
}

sub _cleanup_dir {
    my $self = shift;
    return if $ENV{WM_KEEP};
    remove_tree($self->{prefix}) if -d $self->{prefix};
}

sub _finish {
    my $self = shift;
    return if $self->{done}++;
    alarm 0;
    $self->_stop_all;
    $self->_check;
    diag("prefix kept: $self->{prefix}") if $ENV{WM_KEEP};
    $self->_cleanup_dir;
    @LIVE = grep { $_ != $self } @LIVE;
}

sub done {
    my $self = shift;
    $self->_finish;
    done_testing();
}

END {
    my $rc = $?;
    $_->_finish for @LIVE;
    $? = $rc;
}

1;
