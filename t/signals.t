#!/usr/bin/perl
# Signals to the master: USR1 / -s reopen (log rotation), QUIT / -s quit
# (graceful: waits for open connections), TERM / -s stop and INT (fast),
# and worker_shutdown_timeout bounding a graceful stop.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

my $t = WmTest->new(timeout => 240);
my $P = $t->prefix;
my $D = qr{\d{4}/\d\d/\d\d \d\d:\d\d:\d\d};
# nginx logs the signal line "signal 1 (SIGHUP) received from PID,
# reconfiguring" and then "reconfiguring": either form is the message.
my $RECONF = qr/(?:signal 1 \(SIGHUP\) received(?: from \d+)?, )?reconfiguring/;

# The mock upstream for the proxy sections, and state the sections share.
my $up  = $t->port;
my $upl;
my ($port, $mp, @w, $r, $off, $old_size, $log, $c, $u, $t0);

# Reads from $s until $want bytes arrived or $timeout passed.
sub recv_n {
    my ($s, $want, $timeout) = @_;
    my $buf = '';
    my $end = time + ($timeout // 5);
    while (length $buf < $want && time < $end) {
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        last unless select($rin, undef, undef, $end - time);
        my $r = sysread($s, $buf, $want - length $buf, length $buf);
        last unless $r;
    }
    return $buf;
}

# True when $s reaches EOF (or an error) within $timeout.
sub eof_within {
    my ($s, $timeout) = @_;
    my $end = time + $timeout;
    while (time < $end) {
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        next unless select($rin, undef, undef, $end - time);
        my $r = sysread($s, my $buf, 4096);
        return 1 if !defined $r || $r == 0;
    }
    return 0;
}

# A proxy with one connection open through it: returns (client, upstream
# side) after checking that bytes flow both ways.
sub open_relay {
    my ($port, $upl, $tag) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Timeout => 5) or return;
    print $c "ping";
    my $rin = '';
    vec($rin, fileno($upl), 1) = 1;
    select($rin, undef, undef, 5) or return;
    my $u = $upl->accept or return;
    my $got = recv_n($u, 4);
    is($got, 'ping', "$tag: the upstream gets the client's bytes");
    print $u "pong";
    is(recv_n($c, 4), 'pong', "$tag: the client gets the upstream's bytes");
    return ($c, $u);
}

sub upstream_listener {
    my $port = shift;
    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port",
        Listen => 16, ReuseAddr => 1) or die "listen $port: $!";
    return $l;
}
$upl = upstream_listener($up);

$t->section('-s reopen and USR1 after the log was moved' => sub {
    $port = $t->port;
    $t->write_conf(<<"EOF");
worker_processes 2;
events { }
stream { server { listen 127.0.0.1:$port; return "r\\n"; } }
EOF
    $mp = $t->start(workers => 2, ports => [$port]) or return;
    @w  = $t->workers;
    is($t->talk($port), "r\n", 'serves before the reopen');

    rename $t->error_log_path, "$P/logs/error.log.1" or die "rename: $!";
    $r = $t->run('-p', "$P/", '-c', $t->conf_path, '-s', 'reopen');
    is($r->{code},   0,  '-s reopen exits 0');
    is($r->{stderr}, '', '-s reopen prints nothing');
    ok($t->wait_until(sub { -e $t->error_log_path }, 5),
        'after -s reopen a new error.log exists');
    ok($t->wait_until(sub {
            ($t->log_text('logs/error.log.1') . $t->log_text)
              =~ /^$D \[\w+\] $mp#0: reopening logs$/m }, 5),
        'the master logs "reopening logs"');
    sleep 1;    # let the workers reopen too
    $old_size = $t->log_size('logs/error.log.1');
    $off = $t->log_size;

    # Make the master and the old workers (which reopened on USR1) write: a
    # reload logs "reconfiguring" in the master and "gracefully shutting down"
    # in each old worker.
    $t->reload(workers => 2);
    for (1 .. 5) { $t->talk($port) }
    sleep 0.5;
    is($t->log_size('logs/error.log.1'), $old_size,
        'the moved log gets no more lines');
    my $new = $t->log_since($off);
    like($new, qr/^$D \[\w+\] $mp#0: $RECONF$/m,
        'the master writes to the new error.log');
    for my $pid (@w) {
        like($new, qr/^$D \[\w+\] $pid#0: gracefully shutting down$/m,
            "old worker $pid writes to the new error.log");
    }

    # USR1 directly, once more.
    rename $t->error_log_path, "$P/logs/error.log.2" or die "rename: $!";
    kill 'USR1', $mp;
    ok($t->wait_until(sub { -e $t->error_log_path }, 5),
        'USR1: a new error.log exists');
    sleep 1;
    $old_size = $t->log_size('logs/error.log.2');
    $t->stop;
    is($t->log_size('logs/error.log.2'), $old_size,
        'USR1: the moved log gets no more lines');
    like($t->log_text, qr/^$D \[\w+\] $mp#0: exiting$/m,
        'USR1: the master writes "exiting" to the new log');
});

$t->section('-s quit waits for an open proxied connection' => sub {
    $port = $t->port;
    $t->write_conf(<<"EOF");
worker_processes 1;
events { }
stream { server { listen 127.0.0.1:$port; proxy_pass 127.0.0.1:$up; } }
EOF
    # No port probe: a probe would open an upstream connection.
    $mp = $t->start(workers => 1) or return;
    @w = $t->workers;
    ($c, $u) = open_relay($port, $upl, 'quit') or return fail('relay');
    $off = $t->log_size;
    $r = $t->run('-p', "$P/", '-c', $t->conf_path, '-s', 'quit');
    is($r->{code}, 0, '-s quit exits 0');
    ok($t->wait_log(qr/^$D \[\w+\] $w[0]#0: gracefully shutting down$/m,
            from => $off), 'the worker logs "gracefully shutting down"');
    sleep 1.5;
    ok($t->alive($mp), 'quit: the master waits while a connection is open');
    ok($t->alive($w[0]), 'quit: the worker waits while a connection is open');
    print $u "still";
    is(recv_n($c, 5), 'still', 'quit: the open connection still relays to the client');
    print $c "here";
    is(recv_n($u, 4), 'here', 'quit: the open connection still relays to the upstream');
    close $c;
    ok(eof_within($u, 5), 'quit: the upstream sees the client close');
    close $u;
    ok($t->wait_gone($mp, @w, timeout => 10),
        'quit: after the connection closed, master and worker exit');
    is($t->exit_status($mp), 0, 'quit: the master exits with status 0');
    $log = $t->log_since($off);
    like($log, qr/^$D \[\w+\] $w[0]#0: exiting$/m, 'quit: the worker logs "exiting"');
    like($log, qr/^$D \[\w+\] $mp#0: exiting$/m, 'quit: the master logs "exiting"');
    ok(!-e $t->pid_path, 'quit: the pid file is removed');
});

$t->section('worker_shutdown_timeout bounds a graceful stop' => sub {
    $port = $t->port;
    $t->write_conf(<<"EOF");
worker_processes 1;
worker_shutdown_timeout 1s;
events { }
stream { server { listen 127.0.0.1:$port; proxy_pass 127.0.0.1:$up; } }
EOF
    $mp = $t->start(workers => 1) or return;
    @w = $t->workers;
    ($c, $u) = open_relay($port, $upl, 'shutdown timeout')
      or return fail('relay');
    $t0 = time;
    kill 'QUIT', $mp;
    ok($t->wait_gone($mp, @w, timeout => 6),
        'worker_shutdown_timeout 1s: QUIT ends with a connection still open');
    my $took = time - $t0;
    ok($took >= 0.8 && $took < 5,
        sprintf('worker_shutdown_timeout 1s: it took %.1f s', $took));
    ok(eof_within($c, 2), 'worker_shutdown_timeout: the client is closed');
    close $c;
    close $u;
});

# ---- stop (TERM) and INT: fast, even with a connection open ----------------------

for my $how ('-s stop', 'INT') {
    $t->section("$how: a fast stop, even with a connection open" => sub {
        $port = $t->port;
        $t->write_conf(<<"EOF");
worker_processes 2;
events { }
stream { server { listen 127.0.0.1:$port; proxy_pass 127.0.0.1:$up; } }
EOF
        $mp = $t->start(workers => 2) or return;
        @w = $t->workers;
        ($c, $u) = open_relay($port, $upl, $how) or return fail('relay');
        $off = $t->log_size;
        $t0  = time;
        if ($how eq 'INT') {
            kill 'INT', $mp;
        } else {
            $r = $t->run('-p', "$P/", '-c', $t->conf_path, '-s', 'stop');
            is($r->{code}, 0, '-s stop exits 0');
        }
        ok($t->wait_gone($mp, @w, timeout => 5),
            "$how: master and workers exit with a connection open");
        # No shutdown timeout is set: only a fast stop ends with the
        # connection open, so the bound above is the check.
        note(sprintf("$how: took %.1f s", time - $t0));
        is($t->exit_status($mp), 0, "$how: the master exits with status 0");
        ok(eof_within($c, 2), "$how: the client connection is closed");
        like($t->log_since($off), qr/^$D \[\w+\] $mp#0: exiting$/m,
            "$how: the master logs \"exiting\"");
        ok(!-e $t->pid_path, "$how: the pid file is removed");
        close $c;
        close $u;
    });
}

$t->section('QUIT with no connection: every process says goodbye' => sub {
    $port = $t->port;
    $t->write_conf(<<"EOF");
worker_processes 3;
events { }
stream { server { listen 127.0.0.1:$port; return "q\\n"; } }
EOF
    $mp  = $t->start(workers => 3, ports => [$port]) or return;
    @w   = $t->workers;
    $off = $t->log_size;
    $t0  = time;
    $t->stop(signal => 'QUIT');
    ok(time - $t0 < 5, 'QUIT with no connection open is quick');
    $log = $t->log_since($off);
    for my $pid (@w) {
        like($log, qr/^$D \[\w+\] $pid#0: gracefully shutting down$/m,
            "worker $pid: gracefully shutting down");
        like($log, qr/^$D \[\w+\] $pid#0: exiting$/m, "worker $pid: exiting");
    }
    like($log, qr/^$D \[\w+\] $mp#0: exiting$/m, 'master: exiting');
    is($t->talk($port), undef, 'after QUIT the port is closed');
});

close $upl;
$t->done;
