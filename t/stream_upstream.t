#!/usr/bin/perl
# Upstream groups behind the stream proxy (wmproxy.conf(5), STREAM UPSTREAM
# MODULE): round robin and weights, failover to the next server (the client
# never notices), backup servers, max_fails/fail_timeout shared by the
# workers through `zone`, least_conn with long-held connections, hash
# consistency, every server down, proxy_next_upstream*, and a reload that
# keeps the state of an unchanged group. The backends are mocks inside this
# process, served in lockstep: each client connection is accepted by
# whichever backend wmproxy chose, which is then counted.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

my $t = WmTest->new(timeout => 300);
my $P = $t->prefix;

# ---- mock backends ----------------------------------------------------------
#
# wmproxy is started without port probes (`start` without ports): a probe
# would open an upstream connection that no test expects. The listening
# sockets exist before the workers start, so the first client connects.

sub listener {
    my $port = shift;
    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port",
        Listen => 128, ReuseAddr => 1) or die "listen $port: $!";
    return $l;
}

# Reads from $s until EOF, $want bytes, or $timeout seconds.
sub recv_n {
    my ($s, $want, $timeout) = @_;
    my $buf = '';
    my $end = time + ($timeout // 5);
    while ((!defined $want || length $buf < $want) && time < $end) {
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        last unless select($rin, undef, undef, $end - time);
        my $r = sysread($s, $buf, 4096, length $buf);
        last unless $r;
    }
    return $buf;
}

# Waits until one of the backends (name => listener) has a connection and
# accepts it: (name, socket), or () after $timeout.
sub accept_any {
    my ($be, $timeout) = @_;
    my %by_fd = map { fileno($be->{$_}) => $_ } keys %$be;
    my $sel = IO::Select->new(values %$be);
    my @ready = $sel->can_read($timeout // 5) or return;
    my $name = $by_fd{ fileno($ready[0]) };
    my $u = $ready[0]->accept or return;
    return ($name, $u);
}

# One client connection through the proxy on $port, served by the backend
# wmproxy chose, which answers with its name. Returns (backend name or
# undef, what the client read); with hold => 1 both sockets stay open and
# come back too: (name, reply, client, upstream side).
sub one {
    my ($port, $be, %o) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        $o{from} ? (LocalAddr => $o{from}) : (), Timeout => 5)
      or return (undef, "connect: $!");
    my ($name, $u) = accept_any($be, $o{timeout} // 5);
    unless ($name) {
        my $r = recv_n($c, undef, 2);
        close $c;
        return (undef, $r);
    }
    print $u $name;
    if ($o{hold}) {
        return ($name, recv_n($c, length $name), $c, $u);
    }
    close $u;
    my $r = recv_n($c);
    close $c;
    return ($name, $r);
}

# $n connections; returns { name => count }, and fails the check $tag when
# a client did not get its backend's name.
sub many {
    my ($port, $be, $n, $tag) = @_;
    my (%count, $bad);
    for (1 .. $n) {
        my ($name, $r) = one($port, $be);
        if (!defined $name || $r ne $name) {
            $bad //= defined $name ? "backend $name, client read \"$r\""
                                   : "no backend accepted, client read \"$r\"";
            next;
        }
        $count{$name}++;
    }
    ok(!defined $bad, "$tag: every client got its backend's answer")
      or diag($bad);
    return \%count;
}

# Worker pids that accepted a stream session in the log since $off.
sub session_pids {
    my $off = shift;
    my %pid = map { $_ => 1 }
      $t->log_since($off) =~ /\[debug\] (\d+)#0: stream session \d+ accepted/g;
    return sort keys %pid;
}

sub count_lines {
    my ($re, $off) = @_;
    my @l = grep { $_ =~ $re } split /\n/, $t->log_since($off);
    return scalar @l;
}

sub conf {
    my ($workers, $stream) = @_;
    return "worker_processes $workers;\nevents { }\nstream {\n$stream}\n";
}

# ---- round robin and weights ------------------------------------------------

$t->section('round robin and weights over 1000 connections' => sub {
    my ($port, $port2) = ($t->port, $t->port);
    my %be = map { $_ => $t->port } qw(a b c);
    my %l  = map { $_ => listener($be{$_}) } keys %be;
    $t->write_conf(conf(1, <<"EOF"));
    upstream rr {
        server 127.0.0.1:$be{a};
        server 127.0.0.1:$be{b};
        server 127.0.0.1:$be{c};
    }
    upstream weighted {
        server 127.0.0.1:$be{a} weight=5;
        server 127.0.0.1:$be{b} weight=3;
        server 127.0.0.1:$be{c} weight=2;
    }
    server { listen 127.0.0.1:$port; proxy_pass rr; }
    server { listen 127.0.0.1:$port2; proxy_pass weighted; }
EOF
    $t->start(workers => 1) or return;
    my @order = map { (one($port, \%l))[0] // '-' } 1 .. 6;
    is("@order", 'a b c a b c', 'equal weights: a b c a b c');

    my $c = many($port, \%l, 999, 'rr');
    is_deeply($c, { a => 333, b => 333, c => 333 },
        '999 connections, equal weights: 333 each');

    $c = many($port2, \%l, 1000, 'weighted');
    is_deeply($c, { a => 500, b => 300, c => 200 },
        'weights 5:3:2 over 1000 connections: exactly 500/300/200');
    $t->stop;

    # Two workers share the rotation through the zone.
    $t->write_conf(conf(2, <<"EOF"));
    upstream weighted {
        zone weighted 64k;
        server 127.0.0.1:$be{a} weight=5;
        server 127.0.0.1:$be{b} weight=3;
        server 127.0.0.1:$be{c} weight=2;
    }
    server { listen 127.0.0.1:$port2; proxy_pass weighted; }
EOF
    my $off = $t->log_size;
    $t->start(workers => 2) or return;
    $c = many($port2, \%l, 1000, '2 workers, zone');
    is_deeply($c, { a => 500, b => 300, c => 200 },
        '2 workers with zone: still exactly 500/300/200');
    diag('workers that served: ' . join(' ', session_pids($off)));
    $t->stop;
});

# ---- failover ---------------------------------------------------------------

$t->section('a refusing server: the next one serves, the client never notices'
      => sub {
    my $port = $t->port;
    my ($pa, $pb, $pc) = ($t->port, $t->port, $t->port);
    my %l = (a => listener($pa), c => listener($pc));    # b refuses
    $t->write_conf(conf(1, <<"EOF"));
    upstream u {
        server 127.0.0.1:$pa;
        server 127.0.0.1:$pb;
        server 127.0.0.1:$pc;
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    $t->start(workers => 1) or return;
    my $off = $t->log_size;
    my $c = many($port, \%l, 30, 'failover');
    is_deeply($c, { a => 15, c => 15 }, 'a and c share the 30 connections');
    is(count_lines(qr/\[error\] \d+#0: connect\(\) failed \(111: Connection refused\) while connecting to upstream, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$port, upstream: "127\.0\.0\.1:$pb"$/, $off),
        1, 'one "connect() failed ... upstream: b" line, with nginx\'s context');
    is(count_lines(qr/\[warn\] \d+#0: upstream server temporarily disabled while connecting to upstream, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$port, upstream: "127\.0\.0\.1:$pb"$/, $off),
        1, 'one "upstream server temporarily disabled" warning');
    is(count_lines(qr/\[error\]/, $off), 1, 'no other error');
    $t->stop;
});

# A server that never answers: its listen queue is full, so SYNs are dropped.
sub blackhole {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1:0', Listen => 1)
      or die "listen: $!";
    my @fill = map {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $l->sockport,
            Timeout => 1)
    } 1 .. 2;
    return ($l->sockport, [ $l, @fill ]);
}

$t->section('a server that does not answer: upstream timed out, the next '
      . 'one serves' => sub {
    my ($port, $port2) = ($t->port, $t->port);
    my ($pa, $keep) = blackhole();
    my $pb = $t->port;
    my %l = (b => listener($pb));
    $t->write_conf(conf(1, <<"EOF"));
    upstream u1 { server 127.0.0.1:$pa; server 127.0.0.1:$pb; }
    upstream u2 { server 127.0.0.1:$pa; server 127.0.0.1:$pb; }
    proxy_connect_timeout 1s;
    server { listen 127.0.0.1:$port; proxy_pass u1; }
    server {
        listen 127.0.0.1:$port2;
        proxy_pass u2;
        proxy_next_upstream_timeout 500ms;
    }
EOF
    $t->start(workers => 1) or return;
    my $off = $t->log_size;
    my $t0 = time;
    my ($name, $r) = one($port, \%l);
    is($r, 'b', 'a times out, b answers the client');
    ok(time - $t0 >= 0.9, '  after proxy_connect_timeout');
    is(count_lines(qr/\[error\] \d+#0: upstream timed out \(110: Connection timed out\) while connecting to upstream, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$port, upstream: "127\.0\.0\.1:$pa"$/, $off),
        1, '  "upstream timed out ... upstream: a" in the log');

    $off = $t->log_size;
    ($name, $r) = one($port2, \%l, timeout => 2);
    ok(!defined $name && $r eq '',
        'proxy_next_upstream_timeout 500ms: no second try after a 1s '
          . 'timeout');
    is(count_lines(qr/upstream timed out/, $off), 1, '  one try');
    $t->stop;
});

# ---- backup -----------------------------------------------------------------

$t->section('backup: only when every primary is down' => sub {
    my $port = $t->port;
    my %be = map { $_ => $t->port } qw(a b c);
    my %l  = map { $_ => listener($be{$_}) } keys %be;
    $t->write_conf(conf(1, <<"EOF"));
    upstream u {
        server 127.0.0.1:$be{a} fail_timeout=2s;
        server 127.0.0.1:$be{b} fail_timeout=2s;
        server 127.0.0.1:$be{c} backup;
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    $t->start(workers => 1) or return;
    my $c = many($port, \%l, 20, 'primaries up');
    is_deeply($c, { a => 10, b => 10 }, 'primaries up: the backup gets none');

    close $l{a};
    close $l{b};
    my $off = $t->log_size;
    my $bk = { c => $l{c} };
    $c = many($port, $bk, 10, 'primaries down');
    is_deeply($c, { c => 10 }, 'primaries down: the backup serves all 10');
    is(count_lines(qr/connect\(\) failed \(111: Connection refused\)/, $off),
        2, 'each primary failed once, then was skipped');

    $l{a} = listener($be{a});
    $l{b} = listener($be{b});
    sleep 2.3;    # fail_timeout
    $c = many($port, \%l, 20, 'primaries back');
    ok(!$c->{c}, 'primaries back after fail_timeout: the backup gets none')
      or diag(explain $c);
    ok($c->{a} && $c->{b}, 'and both primaries serve again')
      or diag(explain $c);
    $t->stop;
});

# ---- max_fails / fail_timeout, with and without zone --------------------------

# Server a refuses once, then listens again; for fail_timeout it must get
# no connection from any worker. Returns the counts of the window and the
# worker pids that served in it.
sub fail_window {
    my ($port, $pa, $pb, $lb, $fail_timeout, $relisten) = @_;
    my $off = $t->log_size;
    my ($name, $r) = one($port, { b => $lb });
    is($name, 'b', 'a refuses: the first connection fails over to b');
    my $t0 = time;
    my $la = $relisten ? listener($pa) : undef;
    my %l = (b => $lb, $la ? (a => $la) : ());
    my (%count, @pids);
    # Connections until both workers served some, within the window.
    while (time < $t0 + $fail_timeout - 1.5) {
        my $c = many($port, \%l, 10, 'in the window');
        $count{$_} += $c->{$_} for keys %$c;
        @pids = session_pids($off);
        last if @pids >= 2 && ($count{b} // 0) >= 20;
    }
    return (\%count, \@pids, $off, $t0, $la);
}

$t->section('max_fails/fail_timeout shared by 2 workers with zone' => sub {
    my $port = $t->port;
    my ($pa, $pb) = ($t->port, $t->port);
    my $lb = listener($pb);
    $t->write_conf(conf(2, <<"EOF"));
    upstream u {
        zone u 64k;
        server 127.0.0.1:$pa max_fails=1 fail_timeout=6s;
        server 127.0.0.1:$pb;
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    $t->start(workers => 2) or return;
    my ($count, $pids, $off, $t0, $la) =
      fail_window($port, $pa, $pb, $lb, 6, 1);
    is(scalar @$pids, 2, 'both workers served connections in the window')
      or diag("pids: @$pids");
    ok(!$count->{a}, 'a, listening again, got none of them for fail_timeout')
      or diag(explain $count);
    is(count_lines(qr/connect\(\) failed/, $off), 1,
        'one failure in all: the other worker knew a was down');

    sleep(($t0 + 6.3) - time) if time < $t0 + 6.3;
    my %l = (a => $la, b => $lb);
    my $c = many($port, \%l, 10, 'after fail_timeout');
    ok($c->{a}, 'after fail_timeout a serves again') or diag(explain $c);
    $t->stop;
});

$t->section('without zone each worker learns on its own' => sub {
    my $port = $t->port;
    my ($pa, $pb) = ($t->port, $t->port);
    my $lb = listener($pb);
    $t->write_conf(conf(2, <<"EOF"));
    upstream u {
        server 127.0.0.1:$pa max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$pb;
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    $t->start(workers => 2) or return;
    my ($count, $pids, $off) = fail_window($port, $pa, $pb, $lb, 30, 0);
    is(scalar @$pids, 2, 'both workers served connections')
      or diag("pids: @$pids");
    is(count_lines(qr/connect\(\) failed/, $off), scalar @$pids,
        'one failure per worker: private state');
    $t->stop;
});

# ---- least_conn ---------------------------------------------------------------

$t->section('least_conn with long-held connections (2 workers, zone)' => sub {
    my $port = $t->port;
    my %be = map { $_ => $t->port } qw(a b c);
    my %l  = map { $_ => listener($be{$_}) } keys %be;
    $t->write_conf(conf(2, <<"EOF"));
    upstream u {
        least_conn;
        zone u 64k;
        server 127.0.0.1:$be{a};
        server 127.0.0.1:$be{b};
        server 127.0.0.1:$be{c};
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    $t->start(workers => 2) or return;
    my (%held, %n);
    for (1 .. 9) {
        my ($name, $r, $c, $u) = one($port, \%l, hold => 1);
        next unless defined $name && $r eq $name;
        push @{ $held{$name} }, [ $c, $u ];
        $n{$name}++;
    }
    is_deeply(\%n, { a => 3, b => 3, c => 3 },
        '9 held connections: 3 on each server');

    # b's connections end: the next three go to b, the least loaded.
    for my $pair (@{ delete $held{b} }) {
        close $pair->[0];
        recv_n($pair->[1], undef, 5);    # the proxy closes its side
        close $pair->[1];
    }
    my @next;
    for (1 .. 3) {
        my ($name, $r, $c, $u) = one($port, \%l, hold => 1);
        push @next, $name // '-';
        push @{ $held{ $name // 'none' } }, [ $c, $u ] if $c;
    }
    is("@next", 'b b b', 'after b\'s 3 ended, the next 3 go to b');
    my ($name) = one($port, \%l, hold => 1);
    ok(defined $name, 'with 4 held everywhere, any server may take the next');
    for my $pairs (values %held) {
        close $_->[0], close $_->[1] for @$pairs;
    }
    $t->stop;
});

# ---- hash ---------------------------------------------------------------------

$t->section('hash $remote_addr: the same client, the same server' => sub {
    my ($port, $port2) = ($t->port, $t->port);
    my %be = map { $_ => $t->port } qw(a b c d);
    my %l  = map { $_ => listener($be{$_}) } keys %be;
    my $servers = join '', map { "        server 127.0.0.1:$be{$_};\n" }
      qw(a b c);
    my $conf = sub {
        my $extra = shift // '';
        conf(1, <<"EOF");
    upstream h {
        hash \$remote_addr;
$servers    }
    upstream ch {
        hash \$remote_addr consistent;
$servers$extra    }
    server { listen 127.0.0.1:$port; proxy_pass h; }
    server { listen 127.0.0.1:$port2; proxy_pass ch; }
EOF
    };
    $t->write_conf($conf->());
    $t->start(workers => 1) or return;

    for my $p ($port, $port2) {
        my (%map, %used);
        my $stable = 1;
        for my $round (1 .. 3) {
            for my $i (2 .. 31) {
                my ($name) = one($p, \%l, from => "127.0.0.$i");
                $name //= '-';
                $stable = 0 if $round > 1 && $map{$i} ne $name;
                $map{$i} = $name;
                $used{$name}++;
            }
        }
        my $kind = $p == $port ? 'hash' : 'hash consistent';
        ok($stable, "$kind: 30 client addresses, 3 rounds: each keeps its "
              . 'server');
        ok(!$used{'-'} && keys %used >= 2,
            "$kind: the addresses spread over the servers")
          or diag(explain \%used);
        if ($p == $port2) {
            # A fourth server: keys move only to it (ketama).
            $t->write_conf($conf->("        server 127.0.0.1:$be{d};\n"));
            $t->reload(workers => 1);
            my ($moved, $elsewhere) = (0, 0);
            for my $i (2 .. 31) {
                my ($name) = one($p, \%l, from => "127.0.0.$i");
                $name //= '-';
                next if $name eq $map{$i};
                $name eq 'd' ? $moved++ : $elsewhere++;
            }
            is($elsewhere, 0, 'consistent: adding a server moves keys only '
                  . "to it ($moved of 30 moved)");
        }
    }
    $t->stop;
});

# ---- everything down, proxy_next_upstream* --------------------------------------

$t->section('every server down: the client is closed, the log says why'
      => sub {
    my ($port, $port2, $port3, $port4) = map { $t->port } 1 .. 4;
    my ($pa, $pb, $pc, $pd, $pe) = map { $t->port } 1 .. 5;
    my $ld = listener($pd);
    $t->write_conf(conf(1, <<"EOF"));
    upstream down2 {
        server 127.0.0.1:$pa;
        server 127.0.0.1:$pb;
    }
    upstream off {
        server 127.0.0.1:$pc;
        server 127.0.0.1:$pd;
    }
    upstream three {
        server 127.0.0.1:$pa max_fails=0;
        server 127.0.0.1:$pb max_fails=0;
        server 127.0.0.1:$pe max_fails=0;
    }
    server { listen 127.0.0.1:$port; proxy_pass down2; }
    server {
        listen 127.0.0.1:$port2;
        proxy_pass off;
        proxy_next_upstream off;
    }
    server {
        listen 127.0.0.1:$port3;
        proxy_pass three;
        proxy_next_upstream_tries 2;
    }
    server { listen 127.0.0.1:$port4; proxy_pass three; }
EOF
    $t->start(workers => 1)
      or return;
    my $ctx = qr/ while connecting to upstream, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$port, upstream: /;

    my $off = $t->log_size;
    my $t0 = time;
    is($t->talk($port, 'hello'), '', 'both refuse: the client is closed with nothing');
    ok(time - $t0 < 3, '  at once');
    is(count_lines(qr/\[error\] \d+#0: connect\(\) failed \(111: Connection refused\)$ctx"127\.0\.0\.1:(?:$pa|$pb)"$/, $off),
        2, '  after one "connect() failed" line per server');
    is(count_lines(qr/\[warn\] \d+#0: upstream server temporarily disabled$ctx/, $off),
        2, '  each one is disabled');

    $off = $t->log_size;
    is($t->talk($port, 'hello'), '', 'the next client is closed too');
    ok($t->wait_log(qr/^.* \[error\] \d+#0: no live upstreams$ctx"down2"$/m, from => $off),
        '  with "no live upstreams while connecting to upstream, ... '
          . 'upstream: "down2""');
    is(count_lines(qr/connect\(\) failed/, $off), 0, '  and no connect attempt');

    $off = $t->log_size;
    my ($name, $r) = one($port2, { d => $ld }, timeout => 2);
    ok(!defined $name && $r eq '',
        'proxy_next_upstream off: the first refusal closes the client');
    is(count_lines(qr/connect\(\) failed/, $off), 1, '  after one attempt');
    ($name, $r) = one($port2, { d => $ld });
    is($name, 'd', '  the next client goes to the other server');

    $off = $t->log_size;
    is($t->talk($port3, 'x'), '', 'proxy_next_upstream_tries 2: three refuse, '
          . 'the client is closed');
    is(count_lines(qr/connect\(\) failed/, $off), 2, '  after 2 attempts');
    $off = $t->log_size;
    is($t->talk($port4, 'x'), '', 'without the limit');
    is(count_lines(qr/connect\(\) failed/, $off), 3,
        '  every server is tried once (3 attempts)');
    $t->stop;
});

# ---- reload -----------------------------------------------------------------------

$t->section('a reload keeps the state of an unchanged group in its zone'
      => sub {
    my $port = $t->port;
    my ($pa, $pb) = ($t->port, $t->port);
    my $lb = listener($pb);
    my $conf = sub {
        my $extra = shift // '';
        conf(1, <<"EOF");
    upstream u {
        least_conn;
        zone u 64k;
        server 127.0.0.1:$pa fail_timeout=60s;
        server 127.0.0.1:$pb$extra;
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    };
    $t->write_conf($conf->());
    $t->start(workers => 1) or return;

    # a fails once and is out for 60 s; it listens again right away.
    my ($name) = one($port, { b => $lb });
    is($name, 'b', 'a refuses, b serves');
    my $la = listener($pa);
    my %l = (a => $la, b => $lb);

    my $off = $t->log_size;
    $t->reload(workers => 1);
    like($t->log_since($off),
        qr/\[info\] \d+#0: upstream "u" keeps its state in zone "u"$/m,
        'the master logs that u keeps its state');
    my $c = many($port, \%l, 10, 'after the reload');
    is_deeply($c, { b => 10 }, 'after the reload a is still out: b gets all 10');

    # A changed list starts afresh: a is tried again at once.
    $t->write_conf($conf->(' max_fails=2'));
    $off = $t->log_size;
    $t->reload(workers => 1);
    unlike($t->log_since($off), qr/keeps its state/,
        'a changed server list does not keep the state');
    $c = many($port, \%l, 10, 'changed list');
    ok($c->{a} && $c->{a} >= 4, 'with fresh state a serves again at once')
      or diag(explain $c);
    $t->stop;
});

$t->section('a reload keeps connection counts for least_conn' => sub {
    my $port = $t->port;
    my ($pa, $pb) = ($t->port, $t->port);
    my %l = (a => listener($pa), b => listener($pb));
    $t->write_conf(conf(1, <<"EOF"));
    upstream u {
        least_conn;
        zone u 64k;
        server 127.0.0.1:$pa;
        server 127.0.0.1:$pb;
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    $t->start(workers => 1) or return;
    my ($n1, $r1, $c1, $u1) = one($port, \%l, hold => 1);
    is($n1, 'a', 'the first connection goes to a and stays open');
    my @old = $t->workers;
    my $off = $t->log_size;
    $t->reload(workers => 1, keep_old => 1);
    # Until it stops accepting, the old worker could take the next client.
    ok($t->wait_log(qr/ $old[0]#0: gracefully shutting down$/m, from => $off),
        'the old worker stops accepting');
    ok($t->alive($old[0]), 'the old worker still serves the held connection');
    my ($n2, $r2, $c2, $u2) = one($port, \%l, hold => 1);
    is($n2, 'b', 'the new worker sees a\'s connection: b takes the next');
    close $c1;
    recv_n($u1, undef, 5);
    close $u1;
    ok($t->wait_gone($old[0]), 'the old worker exits once it ends');
    my ($n3, $r3, $c3, $u3) = one($port, \%l, hold => 1);
    is($n3, 'a', 'its end reached the shared count: a takes the next');
    close $_ for grep { defined } $c2, $u2, $c3, $u3;
    $t->stop;
});

$t->done;
