#!/usr/bin/perl
# UDP proxying with several workers (wmproxy.conf(5), STREAM MODULE: each
# client address is served by one worker): with worker_processes 2 and 4,
# 50 clients sending 20 datagrams each reach the upstream from one source
# port each, get exactly their own replies, and the access log has one
# session per client, spread over every worker. A reload while sessions
# wait for a reply: the old workers stop reading, their sessions still
# send the late reply to the client, and the clients' new datagrams start
# a session in a new worker. A reload from 4 workers to 2 while the 4 old
# ones finish: no datagram of a new client is lost to the sockets of the
# old workers. A reload to 4 workers that fails on a busy port leaves
# every client in its session; a killed worker's clients get new sessions
# in its replacement while the other worker's keep theirs. The backend
# is a UDP echo in a child process that prefixes each reply with the
# source port it saw and logs every datagram.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use IO::Socket::INET;
use POSIX ();
use Socket qw(unpack_sockaddr_in);
use Time::HiRes qw(sleep time);

my $t = WmTest->new(timeout => 300);
my $P = $t->prefix;
my ($port, $port2, $port3, $busy, $bport) = map { $t->udp_port } 1 .. 5;
my $blog = "$P/backend.log";
my @backend;

# ---- the backend ----------------------------------------------------------
#
# Answers datagram D with "SRCPORT:D" at once, or 3 seconds later when D
# starts with "late:". Each datagram is a line "SRCPORT D" in $blog.

sub backend {
    open my $tmp, '>', $blog or die "$blog: $!";
    close $tmp;
    my $sock = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$bport",
        Proto => 'udp') or die "bind $bport: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        alarm 0;
        $SIG{$_} = 'DEFAULT' for qw(ALRM PIPE TERM INT);
        my @late;    # [ due, from, reply ]
        while (1) {
            my $now = time;
            while (@late && $late[0][0] <= $now) {
                my $l = shift @late;
                send($sock, $l->[2], 0, $l->[1]);
            }
            my $rin = '';
            vec($rin, fileno($sock), 1) = 1;
            my $wait = @late ? $late[0][0] - $now : 1;
            $wait = 0.01 if $wait < 0.01;
            my $n = select(my $rout = $rin, undef, undef, $wait);
            POSIX::_exit(0) if getppid() == 1;
            next unless $n && $n > 0;
            my $from = recv($sock, my $d, 65535, 0);
            next unless defined $from;
            my ($sport) = unpack_sockaddr_in($from);
            if (open my $fh, '>>', $blog) {
                print $fh "$sport $d\n";
                close $fh;
            }
            if ($d =~ /^late:/) {
                push @late, [ time + 3, $from, "$sport:$d" ];
            } else {
                send($sock, "$sport:$d", 0, $from);
            }
        }
    }
    close $sock;
    @backend = ($pid);
}

END {
    for (@backend) { kill 'TERM', $_; waitpid($_, 0) }
}

backend();

# ---- clients --------------------------------------------------------------

sub client {
    my $to = shift // $port;
    return IO::Socket::INET->new(PeerAddr => "127.0.0.1:$to",
        Proto => 'udp') // die "udp socket: $!";
}

# The datagrams $c receives until $n came or nothing came for 3 s.
sub replies {
    my ($c, $n) = @_;
    my @got;
    while (@got < $n) {
        my $rin = '';
        vec($rin, fileno($c), 1) = 1;
        last unless select(my $rout = $rin, undef, undef, 3);
        my $from = recv($c, my $d, 65535, 0);
        last unless defined $from;
        push @got, $d;
    }
    return @got;
}

# Each of @c sends $k datagrams "TAG-I-J", in rounds: datagram J of every
# client, then their replies (a burst of thousands would overflow the
# socket buffers), then J+1. Each must get exactly its own $k replies,
# all from one upstream source port. Returns { client index => port }.
sub exchange {
    my ($tag, $k, @c) = @_;
    my %r;
    for my $j (1 .. $k) {
        send($c[$_], "$tag-$_-$j", 0) for 0 .. $#c;
        push @{ $r{$_} }, replies($c[$_], 1) for 0 .. $#c;
    }
    my (%port_of, $own);
    for my $i (0 .. $#c) {
        my @r = @{ $r{$i} };
        my %ports = map { /^(\d+):/ ? ($1 => 1) : ('?' => 1) } @r;
        my $want = join ',', sort map { "$tag-$i-$_" } 1 .. $k;
        my $got = join ',', sort map { /^\d+:(.*)$/s ? $1 : $_ } @r;
        if ($got eq $want && keys %ports == 1) {
            $own++;
            ($port_of{$i}) = keys %ports;
        } else {
            diag("$tag client $i got: @r");
        }
    }
    is($own, scalar @c, "$tag: each of " . @c . " clients got its $k "
        . 'replies, all from one upstream source port');
    my %clients_of = reverse %port_of;
    is(scalar keys %clients_of, scalar @c,
        "$tag: one upstream socket per client");
    return \%port_of;
}

# Backend log: the source ports that datagrams "TAG-I-..." came from.
sub backend_ports {
    my $tag = shift;
    my %p;
    open my $fh, '<', $blog or return {};
    while (<$fh>) {
        $p{$2}{$1} = 1 if /^(\d+) \Q$tag\E-(\d+)-/;
    }
    close $fh;
    return \%p;
}

# Access log lines from offset $off: [ client port, worker pid, bytes
# received ].
sub sessions {
    my $off = shift;
    return map { [ split / / ] } grep { length }
      split /\n/, $t->log_since($off, 'logs/udp.access');
}

# $extra: more text in the stream block, at its end.
sub conf {
    my ($n, $extra) = (@_, '');
    $t->write_conf(<<"EOF");
worker_processes $n;
events { }
stream {
    log_format s '\$remote_port \$pid \$bytes_received';
    server {
        listen 127.0.0.1:$port udp;
        proxy_pass 127.0.0.1:$bport;
        proxy_timeout 4s;
        access_log logs/udp.access s;
    }
    server {
        listen 127.0.0.1:$port2 udp;
        proxy_pass 127.0.0.1:$bport;
        proxy_responses 1;
        proxy_timeout 20s;
        access_log logs/late.access s;
    }
    server {
        listen 127.0.0.1:$port3 udp;
        proxy_pass 127.0.0.1:$bport;
        proxy_timeout 120s;
    }
$extra}
EOF
}

# 50 clients x 20 datagrams with $n workers: one session per client, in
# the access log too, spread over all workers.
sub fifty {
    my ($n, $tag) = @_;
    my $off = $t->log_size('logs/udp.access');
    my @c = map { client() } 0 .. 49;
    my $ports = exchange($tag, 20, @c);
    my $bp = backend_ports($tag);
    is(scalar(grep { keys %{ $bp->{$_} } == 1 } 0 .. 49), 50,
        "$tag: the backend saw each client's 20 datagrams from one port");
    my %mine = map { $_->sockport => 1 } @c;
    ok($t->wait_until(
            sub { (grep { $mine{ $_->[0] } } sessions($off)) >= 50 }, 20),
        "$tag: the sessions ended idle and were logged");
    sleep 0.5;
    my @s = grep { $mine{ $_->[0] } } sessions($off);
    my %per = map { $_->[0] => 0 } @s;
    $per{ $_->[0] }++ for @s;
    is(scalar(@s), 50, "$tag: 50 sessions in the access log");
    is(scalar(grep { $per{$_} == 1 } keys %per), 50,
        "$tag: one session per client");
    my %bytes = map { $_ => 0 } 0 .. 49;
    for my $i (0 .. 49) {
        $bytes{ $c[$i]->sockport } += length "$tag-$i-$_" for 1 .. 20;
    }
    is(scalar(grep { $_->[2] == $bytes{ $_->[0] } } @s), 50,
        "$tag: each session received all 20 datagrams of its client");
    my %pids = map { $_->[1] => 1 } @s;
    is_deeply([ sort keys %pids ], [ sort $t->workers ],
        "$tag: the sessions are spread over the $n workers");
    return @c;
}

# $n clients of the proxy_responses 1 server, each with a session that
# waits for the late reply to "late:TAGI".
sub late {
    my ($tag, $n) = @_;
    my @c = map {
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port2",
            Proto => 'udp') // die "udp: $!"
    } 1 .. $n;
    send($c[$_], "late:$tag$_", 0) for 0 .. $n - 1;
    my $seen = sub { () = $t->log_text('backend.log') =~ /late:$tag\d/g };
    ok($t->wait_until(sub { $seen->() == $n }, 10),
        "the backend got the $n late datagrams");
    return @c;
}

# The error log has no [alert] or [emerg] line but those matching @ok.
sub clean_log {
    my @ok = @_;
    my @bad = grep {
        my $l = $_;
        /\[(alert|emerg)\]|SO_ATTACH_REUSEPORT_CBPF/ && !grep { $l =~ $_ } @ok
    } split /\n/, $t->log_text;
    is("@bad", '', 'no alert, no failed steering in the error log');
}

conf(2);

$t->section('2 workers: 50 clients, one session each' => sub {
    $t->start(workers => 2) or return;
    fifty(2, 'two');
    clean_log();
    $t->stop;
});

$t->section('reload while sessions wait for a reply' => sub {
    $t->start(workers => 2) or return;
    my @old = $t->workers;
    my @c = late('', 20);
    my $off = $t->log_size;
    $t->reload(workers => 2, keep_old => 1);
    ok($t->wait_until(sub {
            (() = $t->log_since($off) =~ /gracefully shutting down/g) >= 2
        }, 10), 'the old workers stop reading');
    # The next datagram of each client starts a session in a new worker;
    # the old session still sends its late reply.
    send($c[$_], "now:$_", 0) for 0 .. 19;
    my ($own, %late_port, %now_port) = (0);
    for my $i (0 .. 19) {
        my @r = replies($c[$i], 2);
        my ($late) = grep { /^\d+:late:$i$/ } @r;
        my ($now) = grep { /^\d+:now:$i$/ } @r;
        if (@r == 2 && $late && $now) {
            $own++;
            ($late_port{$i}) = $late =~ /^(\d+)/;
            ($now_port{$i}) = $now =~ /^(\d+)/;
        } else {
            diag("client $i got: @r");
        }
    }
    is($own, 20, 'each client got its late reply (old worker) and its '
        . 'new one (new worker)');
    is(scalar(grep { $late_port{$_} ne $now_port{$_} } keys %late_port),
        20, 'the new datagrams went over new upstream sockets');
    ok($t->wait_gone(@old, timeout => 20),
        'the old workers exit once their sessions ended');
    my @late = grep { length } split /\n/, $t->log_text('logs/late.access');
    my %old = map { $_ => 1 } @old;
    is(scalar(grep { (split / /)[1] && $old{ (split / /)[1] } } @late), 20,
        'the 20 late sessions are logged by the old workers');
    clean_log();
    $t->stop;
});

$t->section('4 workers, then a reload to 2 while the old ones finish' => sub {
    conf(4);
    $t->start(workers => 4) or return;
    fifty(4, 'four');
    my @old = $t->workers;
    # Sessions in the 4 workers that wait 3 s for their reply.
    my @w = late('w', 30);
    conf(2);
    my $off = $t->log_size;
    $t->reload(workers => 2, keep_old => 1);
    ok($t->wait_until(sub {
            (() = $t->log_since($off) =~ /gracefully shutting down/g) >= 4
        }, 10), 'the 4 old workers stop reading');
    ok(scalar(grep { $t->alive($_) } @old), 'old workers still run');
    # New clients while the old workers hold their sockets: none of their
    # datagrams may land on a socket that nobody reads.
    my @c = map { client() } 0 .. 49;
    exchange('after', 5, @c);
    is(scalar(grep { my $i = $_; grep { /^\d+:late:w$i$/ } replies($w[$i], 1) }
            0 .. 29), 30, 'the old sessions sent their late replies');
    ok($t->wait_gone(@old, timeout => 20), 'the old workers exit');
    clean_log();
    $t->stop;
});

$t->section('a failed reload and a killed worker keep the clients in place'
    => sub {
    conf(2);
    $t->start(workers => 2) or return;
    my @c = map { client($port3) } 0 .. 19;
    my $pre = exchange('pre', 3, @c);

    # A reload to 4 workers that fails on its last socket: the 2 workers
    # stay, and so does the steering of their clients.
    my $blocker = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$busy",
        Proto => 'udp') or die "bind $busy: $!";
    conf(4, "    server { listen 127.0.0.1:$busy udp; "
        . "proxy_pass 127.0.0.1:$bport; }\n");
    my $bind = qr/bind\(\) to 127\.0\.0\.1:$busy failed/;
    my $cannot = qr/cannot start the new configuration/;
    $t->expect_errors($bind, $cannot);
    my $off = $t->log_size;
    $t->signal('HUP');
    ok($t->wait_log($bind, from => $off, timeout => 10),
        'the reload fails: ' . "bind() to 127.0.0.1:$busy failed");
    is(scalar(my @w = $t->workers), 2, 'the 2 workers stay');
    my $mid = exchange('mid', 3, @c);
    is(scalar(grep { $pre->{$_} eq ($mid->{$_} // '') } 0 .. 19), 20,
        'every client is still in its session (same upstream port)');
    close $blocker;

    # A killed worker: the master's copy of its socket waits for the new
    # one, which gets the same clients (in new sessions); the clients of
    # the other worker keep their sessions.
    my $victim = $w[0];
    $t->expect_errors(qr/worker process $victim exited on signal 9/);
    kill 'KILL', $victim;
    ok($t->wait_until(sub {
            my @n = $t->workers;
            @n == 2 && !grep { $_ == $victim } @n }, 10),
        'the killed worker is replaced');
    my $post = exchange('post', 3, @c);
    my $kept = grep { $pre->{$_} eq ($post->{$_} // '') } 0 .. 19;
    ok($kept > 0 && $kept < 20, 'the clients of the other worker keep '
        . "their sessions, the others have new ones ($kept kept)");
    clean_log($bind, $cannot, qr/exited on signal 9/);
    $t->stop;
});

for (@backend) { kill 'TERM', $_; waitpid($_, 0) }
@backend = ();
$t->done;
