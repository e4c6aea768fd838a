#!/usr/bin/perl
# Proxied UDP sessions through the worker's io_uring (udp_io_uring,
# wmproxy.conf(5)), side by side with a server that has it off: the worker
# says which it uses; 50 clients with 20 round trips each get their own
# replies over one upstream socket each, both ways; a 65000-byte datagram
# and an empty one cross whole; a burst from one client reaches the
# backend in order (the ring's queued sends and the segmented sends of a
# batch mixed); an ICMP refusal seen by the ring's receive moves the
# session to the next backend; the upstream sockets are gone once their
# sessions ended (the ring's receive cancelled); a graceful stop with
# sessions open. The backend is a UDP echo server in a child process that
# answers "SRCPORT:DATA" (DATA alone past 1000 bytes) and logs "SRCPORT
# DATA" for each datagram.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmUdp qw(client replies);
use POSIX ();

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my $backend_pid;

my %port = map { $_ => $t->udp_port } qw(on off fail);
my ($b1, $closed) = ($t->udp_port, $t->udp_port);
my $b1log = "$P/b1.log";

sub backend {
    open my $tmp, '>', $b1log or die "$b1log: $!";
    close $tmp;
    $backend_pid = WmUdp::backend($b1, sub {
        my ($sock, $d, $from, $sport) = @_;
        if (open my $log, '>>', $b1log) {
            print $log "$sport ", (length $d > 1000 ? length $d : $d), "\n";
            close $log;
        }
        send($sock, length $d > 1000 ? $d : "$sport:$d", 0, $from);
    });
}

END {
    local $?;
    if ($backend_pid) {
        kill 'TERM', $backend_pid;
        waitpid($backend_pid, 0);
    }
}

sub access_lines {
    return grep { length } split /\n/, $t->log_text("logs/$_[0].access");
}

# Connected UDP sockets of this machine whose peer is 127.0.0.1:$port
# (the upstream sockets of sessions to it), from /proc/net/udp.
sub sockets_to {
    my $port = shift;
    my $want = sprintf '0100007F:%04X', $port;
    open my $fh, '<', '/proc/net/udp' or return -1;
    my $n = grep { (split ' ')[2] eq $want } <$fh>;
    close $fh;
    return $n;
}

backend();

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
stream {
    log_format s '\$remote_port \$status \$bytes_sent \$bytes_received '
                 '\$upstream_addr';
    upstream half_dead { server 127.0.0.1:$closed; server 127.0.0.1:$b1; }
    server { listen 127.0.0.1:$port{on} udp; proxy_pass 127.0.0.1:$b1;
             proxy_timeout 1s; access_log logs/on.access s; }
    server { listen 127.0.0.1:$port{off} udp; proxy_pass 127.0.0.1:$b1;
             proxy_timeout 1s; udp_io_uring off; access_log logs/off.access s; }
    server { listen 127.0.0.1:$port{fail} udp; proxy_pass half_dead;
             proxy_timeout 1s; access_log logs/fail.access s; }
}
EOF

# Whether this machine lets the worker have the ring: built with
# liburing, Linux 6 or later, io_uring not disabled by sysctl (1 leaves
# it to root).
my $v = $t->run('-V');
my $version = ($v->{stderr} // '') . ($v->{stdout} // '');
my ($major) = (POSIX::uname())[2] =~ /^(\d+)\./;
my $disabled = do {
    open my $fh, '<', '/proc/sys/kernel/io_uring_disabled';
    $fh ? (<$fh> // 0) + 0 : 0;
};
my $ring = $version =~ /liburing/ && $major >= 6
  && !($disabled == 2 || ($disabled == 1 && $> != 0));

$t->section('the worker says how its UDP sessions do their I/O' => sub {
    $t->start or return;
    my $c = client($port{off});
    send($c, 'first', 0);
    like((replies($c, 1))[0] // '', qr/^\d+:first$/, 'a session with the ring off');
    unlike($t->log_text, qr/io_uring/, 'which does not try it');
    $c = client($port{on});
    send($c, 'first', 0);
    like((replies($c, 1))[0] // '', qr/^\d+:first$/, 'a session with it on');
    if ($ring) {
        like($t->log_text, qr/\[notice\] \d+#0: proxied UDP sessions use io_uring$/m,
            'uses the ring (this machine has io_uring)');
    } else {
        like($t->log_text,
            qr/\[notice\] .*proxied UDP sessions use recvmmsg\(\) and sendmsg\(\) instead of io_uring/,
            'says it goes without (this machine has no io_uring for it)');
    }
    $t->stop;
});

$t->section('50 clients, 20 round trips each, with the ring and without' => sub {
    $t->start or return;
    for my $mode (qw(on off)) {
        my @c = map { client($port{$mode}) } 0 .. 49;
        my (%sport, $ok);
        for my $round (1 .. 20) {
            send($c[$_], "c$_-$round", 0) for 0 .. 49;
            for my $i (0 .. 49) {
                my ($r) = replies($c[$i], 1);
                next unless defined $r && $r =~ /^(\d+):c$i-$round$/;
                $sport{$i}{$1} = 1;
                $ok++;
            }
        }
        is($ok, 1000, "$mode: every reply came to its own client");
        is(scalar(grep { keys %{ $sport{$_} } == 1 } keys %sport), 50,
            "$mode: each client's datagrams left from one upstream socket");
        my %all = map { (keys %{ $sport{$_} })[0] => 1 } keys %sport;
        is(scalar(keys %all), 50, "$mode: a socket for each client");
        is(sockets_to($b1), 50, "$mode: 50 upstream sockets are open")
            if $mode eq 'on';
    }
    ok($t->wait_until(sub { sockets_to($b1) == 0 }, 10),
        'all gone once the sessions timed out (proxy_timeout 1s)')
        or diag(sockets_to($b1) . ' left');
    ok($t->wait_until(sub { access_lines('on') >= 51 && access_lines('off') >= 51 }, 5),
        'the sessions are logged');
    my @on = grep { /^\d+ 200 / } access_lines('on');
    is(scalar(@on), scalar(access_lines('on')), 'all with 200');
    $t->stop;
});

$t->section('a 65000-byte datagram, an empty one, a burst in order' => sub {
    $t->start or return;
    my $c = client($port{on});
    my $big = join '', map { chr(($_ * 7) & 0xff) } 1 .. 65000;
    send($c, $big, 0);
    my ($r) = replies($c, 1);
    is(length($r // ''), 65000, '65000 bytes came back');
    ok(($r // '') eq $big, 'the same bytes');
    send($c, '', 0);
    like((replies($c, 1))[0] // 'none', qr/^\d+:$/, 'an empty datagram goes and comes back');

    my $off = -s $b1log;
    send($c, "o$_", 0) for 1 .. 100;
    my @got = replies($c, 100, 2);
    ok(@got >= 90, 'the burst came back (' . scalar(@got) . ' of 100)');
    open my $fh, '<', $b1log or die;
    seek $fh, $off, 0;
    my @seen = map { /^\d+ (o\d+)$/ ? $1 : () } <$fh>;
    close $fh;
    is("@seen", join(' ', map { "o$_" } 1 .. scalar @seen),
        'the backend got it in order');
    $t->stop;
});

$t->section('an ICMP refusal through the ring moves the session on' => sub {
    $t->start or return;
    my $off = $t->log_size;
    my $c = client($port{fail});
    send($c, 'f1', 0);
    my ($r) = replies($c, 1);
    # The first datagram went to the refusing backend; the refusal ends
    # the ring's receive, and the kept datagram goes to the next one.
    like($r // '', qr/^\d+:f1$/, 'the reply comes from the live backend');
    like($t->log_since($off),
        qr/\[error\] .*(?:recv|send)\(\) failed \(111: Connection refused\) while proxying udp datagrams, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$port{fail}, upstream: "127\.0\.0\.1:$closed"/,
        'the refusal is logged with the upstream');
    ok($t->wait_until(sub { access_lines('fail') >= 1 }, 5), 'the session ends');
    like((access_lines('fail'))[0], qr/ 200 \d+ 2 127\.0\.0\.1:$b1$/,
        'logged with the backend that answered');
    $t->stop;
});

$t->section('a graceful stop with ring sessions open' => sub {
    $t->start or return;
    my @c = map { client($port{on}) } 1 .. 10;
    send($_, 'hold', 0) for @c;
    is(scalar(grep { (replies($_, 1))[0] } @c), 10, '10 sessions open');
    $t->stop(signal => 'QUIT');
    is(sockets_to($b1), 0, 'their sockets are closed');
});

$t->done;
