#!/usr/bin/perl
# The process model: one master and N workers, `worker_processes auto`,
# `master_process off`, `daemon on`, and the respawn of a killed worker.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;

my $t = WmTest->new(timeout => 180);
my $P = $t->prefix;
my $D = qr{\d{4}/\d\d/\d\d \d\d:\d\d:\d\d};
my $nobody = getpwnam('nobody');

sub uid_of {
    my $pid = shift // return -1;
    open my $fh, '<', "/proc/$pid/status" or return -1;
    while (my $l = <$fh>) {
        return $1 if $l =~ /^Uid:\s+(\d+)/;
    }
    return -1;
}

$t->section('master and 2 workers, kill -9 respawn' => sub {
    my $port = $t->port;
    $t->write_conf(<<"EOF");
worker_processes 2;
events { }
stream {
    server {
        listen 127.0.0.1:$port;
        return "pid \$pid\\n";
    }
}
EOF
    my $off = $t->log_size;
    my $mp  = $t->start(workers => 2, ports => [$port]) or return;
    my @w   = $t->workers;
    is(scalar @w, 2, 'worker_processes 2: the master has 2 children');
    is($t->read_pid, $mp, 'the pid file holds the master pid');
    my @started = $t->log_since($off)
      =~ /^$D \[\w+\] $mp#0: start worker process (\d+)$/mg;
    is_deeply([ sort { $a <=> $b } @started ], \@w,
        'the master logs "start worker process PID" for each worker');
    is(uid_of($mp), 0, 'the master runs as root');
    is(scalar(grep { uid_of($_) == $nobody } @w), 2,
        'the workers run as nobody (the default user)');
    my %seen;
    for (1 .. 40) {
        my $a = $t->talk($port) // '';
        $seen{$1}++ if $a =~ /^pid (\d+)\n\z/;
    }
    my @strangers = grep { my $p = $_; !grep { $_ == $p } @w } keys %seen;
    ok(keys %seen >= 1 && !@strangers,
        'connections are served by the workers ($pid is a worker pid)')
      or diag("served by: @{[ keys %seen ]}, workers: @w");

    # kill -9 of one worker: logged and replaced.
    $t->expect_errors(qr/worker process \d+ exited on signal 9/);
    $off = $t->log_size;
    kill 'KILL', $w[0];
    ok($t->wait_until(sub {
            my @n = $t->workers;
            @n == 2 && !grep { $_ == $w[0] } @n }, 10),
        'after kill -9 of a worker a new one replaces it');
    my @w2 = $t->workers;
    my ($new) = grep { $_ != $w[0] && $_ != $w[1] } @w2;
    ok(grep({ $_ == $w[1] } @w2), 'the other worker is untouched');
    ok($t->wait_log(
            qr/^$D \[\w+\] $mp#0: worker process $w[0] exited on signal 9$/m,
            from => $off),
        'the master logs "worker process PID exited on signal 9"');
    ok($new && $t->log_since($off)
          =~ /^$D \[\w+\] $mp#0: start worker process $new$/m,
        'the master logs "start worker process" for the new worker');
    my $ok = 1;
    for (1 .. 10) {
        $ok = 0 unless ($t->talk($port) // '') =~ /^pid \d+\n\z/;
    }
    ok($ok, 'the port still answers after the respawn');
    is(uid_of($new), $nobody, 'the new worker runs as nobody too');

    # Both at once: both come back.
    kill 'KILL', @w2;
    ok($t->wait_until(sub {
            my @n = $t->workers;
            @n == 2 && !grep { my $p = $_; grep { $_ == $p } @w2 } @n }, 10),
        'after kill -9 of both workers two new ones run');
    like($t->talk($port) // "", qr/^pid \d+\n\z/, "and they serve");
    $t->stop;
    ok(!-e $t->pid_path, 'the pid file is removed when the master exits');
});

$t->section('a worker that keeps dying at start: back-off' => sub {
    my $port = $t->port;
    $t->write_conf(<<"EOF");
worker_processes 1;
events { }
stream { server { listen 127.0.0.1:$port; return "up\\n"; } }
EOF
    my $mp = $t->start(workers => 1, ports => [$port]) or return;
    $t->expect_errors(qr/worker process \d+ exited on signal 9/);
    my $off = $t->log_size;
    # Kill each new worker as soon as it appears: every one dies young,
    # so the master waits longer before each restart (100, 200, 400 ms).
    my %killed;
    for my $round (1 .. 4) {
        my $w;
        $t->wait_until(sub {
            ($w) = grep { !$killed{$_} } $t->workers;
            defined $w }, 10) or last;
        $killed{$w} = 1;
        kill 'KILL', $w;
    }
    is(scalar keys %killed, 4, 'four workers in a row were killed young');
    my @delays;
    $t->wait_until(sub {
        @delays = $t->log_since($off) =~
          /^$D \[warn\] $mp#0: worker process \d+ died \d+ ms after start, starting a new one in (\d+) ms$/mg;
        @delays >= 4 }, 10);
    is_deeply(\@delays, [100, 200, 400, 800],
        'each quick death doubles the wait before the next start (warn)');
    ok($t->wait_until(sub { ($t->talk($port) // '') eq "up\n" }, 10),
        'after the back-off a worker serves again');
    $t->stop;
});

$t->section('worker_processes auto' => sub {
    chomp(my $nproc = `nproc`);
    $t->write_conf("worker_processes auto;\nevents { }\n");
    $t->start(workers => $nproc) or return;
    is(scalar(my @a = $t->workers), $nproc,
        "worker_processes auto: one worker per CPU ($nproc)");
    $t->stop;
});

$t->section('worker_rlimit_nofile, user, error_log levels' => sub {
    my $port = $t->port;
    $t->write_conf(<<"EOF", raw => 1);
daemon off;
pid $P/logs/wmproxy.pid;
error_log $P/logs/error.log debug;
error_log $P/logs/info.log info;
error_log $P/logs/crit.log crit;
error_log stderr notice;
worker_processes 2;
worker_rlimit_nofile 3333;
user nobody nogroup;
events { }
stream { server { listen 127.0.0.1:$port; return "x\\n"; } }
EOF
    my $mp = $t->start(workers => 2, ports => [$port]) or return;
    my @w  = $t->workers;
    for my $pid (@w) {
        my ($soft) = do {
            open my $fh, '<', "/proc/$pid/limits" or die;
            map { /^Max open files\s+(\d+)/ ? $1 : () } <$fh>;
        };
        is($soft, 3333, "worker $pid: worker_rlimit_nofile 3333");
        my ($gid) = do {
            open my $fh, '<', "/proc/$pid/status" or die;
            map { /^Gid:\s+(\d+)/ ? $1 : () } <$fh>;
        };
        is($gid, scalar getgrnam('nogroup'), "worker $pid: user nobody nogroup");
    }
    like($t->log_text('logs/info.log'),
        qr/^$D \[notice\] $mp#0: start worker process $w[0]$/m,
        'error_log FILE info gets [notice] lines');
    unlike($t->log_text('logs/info.log'), qr/\[debug\]/,
        'error_log FILE info gets no [debug] lines');
    is($t->log_text('logs/crit.log'), '',
        'error_log FILE crit gets no [notice] lines');
    like($t->start_output->{stderr},
        qr/^$D \[notice\] $mp#0: start worker process $w[0]$/m,
        'error_log stderr notice writes to stderr');
    $t->stop;
});

$t->section('master_process off' => sub {
    my $port = $t->port;
    $t->write_conf(<<"EOF");
master_process off;
worker_processes 4;
events { }
stream { server { listen 127.0.0.1:$port; return "single \$pid\\n"; } }
EOF
    my $off = $t->log_size;
    my $mp  = $t->start(workers => 0, ports => [$port]) or return;
    is(scalar(my @c = $t->children($mp)), 0,
        'master_process off: a single process, no children');
    is($t->talk($port), "single $mp\n", 'master_process off: the process serves');
    unlike($t->log_since($off), qr/start worker process/,
        'master_process off: no "start worker process"');
    $off = $t->log_size;
    $t->stop;
    like($t->log_since($off), qr/^$D \[\w+\] $mp#0: exiting$/m,
        'master_process off: "exiting" on QUIT');
    ok(!-e $t->pid_path, 'master_process off: the pid file is removed');
});

$t->section('daemon on' => sub {
    my $port = $t->port;
    $t->write_conf(<<"EOF", raw => 1);
daemon on;
pid $P/logs/wmproxy.pid;
error_log $P/logs/error.log debug;
worker_processes 2;
events { }
stream { server { listen 127.0.0.1:$port; return "daemon\\n"; } }
EOF
    my $spawned = $t->start(daemon => 1, wait => 0);
    ok($t->wait_until(sub { !$t->alive($spawned) }, 5),
        'daemon on: the command returns at once');
    is($t->exit_status($spawned), 0, 'daemon on: the command exits 0');
    my $mp = $t->wait_ready(daemon => 1, workers => 2, ports => [$port])
      or return;
    isnt($mp, $spawned, 'daemon on: the pid file names another process');
    my $st = $t->proc_stat($mp) // {};
    is($st->{sid}, $mp, 'daemon on: the master leads its own session');
    isnt($st->{ppid}, $$, 'daemon on: the master is not our child');
    is(scalar(my @dw = $t->workers), 2, 'daemon on: 2 workers');
    is($t->talk($port), "daemon\n", 'daemon on: it serves');
    my $r = $t->run('-p', "$P/", '-c', $t->conf_path, '-s', 'stop');
    is($r->{code},   0,  'daemon on: -s stop exits 0');
    is($r->{stderr}, '', 'daemon on: -s stop prints nothing');
    ok($t->wait_gone($mp, @dw, timeout => 10),
        'daemon on: -s stop ends the master and its workers');
    ok(!-e $t->pid_path, 'daemon on: the pid file is removed');
    is($t->talk($port), undef, 'daemon on: the port is closed');
    like($t->log_text, qr/^$D \[\w+\] $mp#0: exiting$/m,
        'daemon on: the master logs "exiting"');
});

$t->done;
