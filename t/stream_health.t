#!/usr/bin/perl
# Active health checks of stream upstream groups (wmproxy.conf(5),
# health_check and match): TCP connect checks that take a peer down and up
# again with the exact warn lines, a send/expect match that fails on a
# wrong banner, UDP checks with a match (ICMP refused and a wrong reply
# are failures), a verdict reached in one worker applying to both workers,
# one check per interval overall however many workers, verdicts kept
# across a reload, and the -t errors. The backends run in child processes
# of this test (switched on and off through a pipe) and log every
# connection or datagram they get to a file, so the probes can be counted.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

my $t = WmTest->new(timeout => 300);
my $P = $t->prefix;
my @backends;

# ---- mock backends ------------------------------------------------------------
#
# backend(name => N, proto => 'tcp'|'udp', addr => A, port => P,
#         reply => TEXT, up => 1, read => 0)
# A child process that listens on A:P. TCP: accepts, writes reply, reads
# what the peer sends (with read => 1, until EOF or 1 s) and closes. UDP:
# answers every datagram with reply. "down" closes the socket (TCP refuses,
# UDP draws an ICMP port unreachable), "up" opens it again, "reply TEXT"
# changes the reply. Every connection or datagram is a line "TIME HEX" of
# what it received in PREFIX/NAME.events.

sub backend {
    my %o = (proto => 'tcp', addr => '127.0.0.1', up => 1, read => 0, @_);
    my $events = "$P/$o{name}.events";
    open my $tmp, '>', $events or die "$events: $!";
    close $tmp;
    pipe(my $r, my $w) or die "pipe: $!";
    pipe(my $ar, my $aw) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $w;
        close $ar;
        $aw->autoflush(1);
        backend_loop($r, $aw, $events, %o);
        POSIX::_exit(0);
    }
    close $r;
    close $aw;
    $w->autoflush(1);
    my $b = { %o, pid => $pid, ctl => $w, ack => $ar, events => $events };
    push @backends, $b;
    wait_ack($b) or die "backend $o{name} did not start";
    return $b;
}

# The child acknowledges each command (and its start) with a line, once
# its socket is open or closed.
sub wait_ack {
    my $b = shift;
    my $rin = '';
    vec($rin, fileno($b->{ack}), 1) = 1;
    return 0 unless select($rin, undef, undef, 10);
    my $line = '';
    while (sysread($b->{ack}, my $c, 1)) {
        last if $c eq "\n";
        $line .= $c;
    }
    return $line eq 'ok';
}

sub backend_loop {
    my ($ctl, $ack, $events, %o) = @_;
    alarm 0;
    $SIG{$_} = 'DEFAULT' for qw(ALRM PIPE TERM INT);
    my $reply = $o{reply} // '';
    my $sock;
    my $open = sub {
        $sock = $o{proto} eq 'tcp'
          ? IO::Socket::INET->new(LocalAddr => "$o{addr}:$o{port}",
                Listen => 128, ReuseAddr => 1)
          : IO::Socket::INET->new(LocalAddr => "$o{addr}:$o{port}",
                Proto => 'udp', ReuseAddr => 1);
        $sock or die "backend $o{name}: bind $o{addr}:$o{port}: $!";
    };
    $open->() if $o{up};
    print $ack "ok\n";
    my $log = sub {
        open my $fh, '>>', $events or return;
        printf $fh "%.3f %s\n", time, unpack('H*', shift // '');
        close $fh;
    };
    my $buf = '';
    while (1) {
        my $rin = '';
        vec($rin, fileno($ctl), 1) = 1;
        vec($rin, fileno($sock), 1) = 1 if $sock;
        my $n = select(my $rout = $rin, undef, undef, 1);
        POSIX::_exit(0) if getppid() == 1;
        next unless $n && $n > 0;
        if (vec($rout, fileno($ctl), 1)) {
            my $r = sysread($ctl, $buf, 4096, length $buf);
            POSIX::_exit(0) unless $r;
            while ($buf =~ s/^(.*)\n//) {
                my $cmd = $1;
                if ($cmd eq 'down') {
                    close $sock if $sock;
                    undef $sock;
                } elsif ($cmd eq 'up') {
                    $open->() unless $sock;
                } elsif ($cmd =~ /^reply (.*)$/s) {
                    $reply = $1;
                    $reply =~ s/\\n/\n/g;
                    $reply =~ s/\\r/\r/g;
                }
                print $ack "ok\n";
            }
            next;
        }
        next unless $sock && vec($rout, fileno($sock), 1);
        if ($o{proto} eq 'udp') {
            my $from = recv($sock, my $dgram, 65535, 0);
            next unless defined $from;
            $log->($dgram);
            send($sock, $reply, 0, $from) if length $reply;
            next;
        }
        my $c = $sock->accept or next;
        syswrite($c, $reply) if length $reply;
        my $got = '';
        if ($o{read}) {
            my $end = time + 1;
            while (time < $end) {
                my $cin = '';
                vec($cin, fileno($c), 1) = 1;
                last unless select($cin, undef, undef, $end - time);
                my $r = sysread($c, $got, 4096, length $got);
                last unless $r;
            }
        }
        $log->($got);
        close $c;
    }
}

sub cmd {
    my ($b, $cmd) = @_;
    print { $b->{ctl} } "$cmd\n";
    ok(wait_ack($b), "backend $b->{name}: $cmd");
}

# The lines of a backend's events file since $from (a count of lines):
# [time, bytes received].
sub events {
    my ($b, $from) = @_;
    open my $fh, '<', $b->{events} or return ();
    my @e = map { /^(\S+) (\S*)$/ ? [ $1, pack('H*', $2) ] : () } <$fh>;
    close $fh;
    return @e[ ($from // 0) .. $#e ];
}

sub nevents { my @e = events(@_); return scalar @e }

sub stop_backends {
    for my $b (@backends) {
        close $b->{ctl};
        kill 'TERM', $b->{pid};
        waitpid($b->{pid}, 0);
    }
    @backends = ();
}

END { stop_backends() if @backends }

# ---- helpers ------------------------------------------------------------------

sub conf {
    my ($workers, $stream) = @_;
    return "worker_processes $workers;\nevents { }\nstream {\n$stream}\n";
}

sub count_lines {
    my ($re, $off) = @_;
    return scalar grep { $_ =~ $re } split /\n/, $t->log_since($off);
}

# Worker pids that accepted a stream session in the log since $off.
sub session_pids {
    my $off = shift;
    my %pid = map { $_ => 1 }
      $t->log_since($off) =~ /\[debug\] (\d+)#0: stream session \d+ accepted/g;
    return sort keys %pid;
}

# $n client connections through $port, $batch open at a time; returns
# { reply => count }.
sub clients {
    my ($port, $n, $batch) = @_;
    my %count;
    while ($n > 0) {
        my @c = grep { defined } map {
            IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5)
        } 1 .. wm_min($batch, $n);
        $n -= wm_min($batch, $n);
        for my $c (@c) {
            my $r = '';
            my $end = time + 5;
            while (time < $end) {
                my $rin = '';
                vec($rin, fileno($c), 1) = 1;
                last unless select($rin, undef, undef, $end - time);
                last unless sysread($c, $r, 4096, length $r);
            }
            $count{ $r eq '' ? '(nothing)' : $r }++;
            close $c;
        }
    }
    return \%count;
}

sub wm_min { $_[0] < $_[1] ? $_[0] : $_[1] }

# ---- TCP connect checks ---------------------------------------------------------

$t->section('TCP connect checks: down after fails=, up after passes=' => sub {
    my $port = $t->port;
    my ($pa, $pb) = ($t->port, $t->port);
    my $a = backend(name => 'a', port => $pa, reply => "a\n");
    my $b = backend(name => 'b', port => $pb, reply => "b\n");
    $t->write_conf(conf(1, <<"EOF"));
    upstream u {
        zone u 64k;
        server 127.0.0.1:$pa;
        server 127.0.0.1:$pb;
        health_check interval=300ms fails=2 passes=3;
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    my $off = $t->log_size;
    $t->start(workers => 1) or return;
    ok($t->wait_log(qr/ tcp health check started while checking health, upstream: "u", peer: "127\.0\.0\.1:$pa"$/m, from => $off),
        'checks start with the worker');
    ok($t->wait_until(sub { nevents($a) >= 2 && nevents($b) >= 2 }, 10),
        'both backends get probe connections');
    is(count_lines(qr/ is (?:down|up) after /, $off), 0,
        'healthy peers: no transition');

    cmd($a, 'down');
    ok($t->wait_log(qr/^\S+ \S+ \[warn\] \d+#0: peer 127\.0\.0\.1:$pa is down after 2 failed checks, upstream: "u"$/m,
            from => $off),
        'a refuses: "peer 127.0.0.1:A is down after 2 failed checks, '
          . 'upstream: "u"" at warn');
    like($t->log_since($off),
        qr/\[info\] \d+#0: connect\(\) failed \(111: Connection refused\) while checking health, upstream: "u", peer: "127\.0\.0\.1:$pa"$/m,
        'each failed check is logged at info with its reason');

    # Down: no session goes to a, and none even tries (no connect error).
    my $off2 = $t->log_size;
    my $c = clients($port, 20, 5);
    is_deeply($c, { "b\n" => 20 }, 'while a is down, 20 clients all get b');
    is(count_lines(qr/connect\(\) failed.*while connecting to upstream/, $off2),
        0, '  and no session tried a');

    cmd($a, 'up');
    my $t0 = time;
    ok($t->wait_log(qr/^\S+ \S+ \[warn\] \d+#0: peer 127\.0\.0\.1:$pa is up after 3 passed checks, upstream: "u"$/m,
            from => $off2),
        'a listens again: "peer 127.0.0.1:A is up after 3 passed checks, '
          . 'upstream: "u""');
    ok(time - $t0 >= 0.5, '  after 3 checks 300 ms apart, not at once');
    is(count_lines(qr/ is down after /, $off), 1, 'one down line in all');
    is(count_lines(qr/ is up after /, $off), 1, 'one up line in all');
    $c = clients($port, 20, 5);
    is_deeply($c, { "a\n" => 10, "b\n" => 10 },
        'a is used again: 20 clients split 10/10');
    $t->stop;
    stop_backends();
});

# ---- send / expect --------------------------------------------------------------

$t->section('match with send and expect: a wrong banner fails' => sub {
    my $port = $t->port;
    my ($pa, $pb) = ($t->port, $t->port);
    my $a = backend(name => 'ma', port => $pa, reply => "-ERR wrong\r\n",
        read => 1);
    my $b = backend(name => 'mb', port => $pb, reply => "+PONG\r\n",
        read => 1);
    $t->write_conf(conf(1, <<"EOF"));
    match redis {
        send "PING\\r\\n\\x00\\x41";
        expect "+PONG";
    }
    match ssh {
        expect ~ "^SSH-2\\.0-";
    }
    upstream u {
        zone u 64k;
        server 127.0.0.1:$pa;
        server 127.0.0.1:$pb;
        health_check interval=300ms match=redis;
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    my $off = $t->log_size;
    $t->start(workers => 1) or return;
    ok($t->wait_log(qr/\[warn\] \d+#0: peer 127\.0\.0\.1:$pa is down after 1 failed check, upstream: "u"$/m,
            from => $off),
        '"-ERR wrong" instead of "+PONG": peer a is down after 1 failed check');
    like($t->log_since($off),
        qr/\[info\] \d+#0: health check failed: the reply does not match while checking health, upstream: "u", peer: "127\.0\.0\.1:$pa"$/m,
        '  the failure says the reply does not match');
    ok($t->wait_until(sub { nevents($b) >= 2 }, 10), 'b is checked too');
    is(count_lines(qr/peer 127\.0\.0\.1:$pb is down/, $off), 0,
        '"+PONG": b stays up');
    my @e = events($b);
    is($e[0][1], "PING\r\n\0A", 'the probe sent "PING\\r\\n\\x00\\x41", '
          . 'escapes decoded');

    my $c = clients($port, 10, 5);
    is_deeply($c, { "+PONG\r\n" => 10 }, 'clients get only b');

    # The right banner brings a back.
    cmd($a, 'reply +PONG ok\r\n');
    ok($t->wait_log(qr/\[warn\] \d+#0: peer 127\.0\.0\.1:$pa is up after 1 passed check, upstream: "u"$/m,
            from => $off),
        'a answers "+PONG ok": up after 1 passed check');
    $t->stop;
    stop_backends();
});

# ---- UDP --------------------------------------------------------------------------

$t->section('UDP checks with a match: refused and wrong replies fail' => sub {
    my $port = $t->port;
    my $pu = $t->udp_port;
    my $u = backend(name => 'udp', proto => 'udp', port => $pu,
        reply => "ok dns\n");
    $t->write_conf(conf(1, <<"EOF"));
    match dns {
        send "hello\\x00\\xff";
        expect ~ "^ok ";
    }
    upstream u {
        zone u 64k;
        server 127.0.0.1:$pu;
        health_check interval=300ms timeout=1s udp match=dns;
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    my $off = $t->log_size;
    $t->start(workers => 1) or return;
    ok($t->wait_until(sub { nevents($u) >= 3 }, 10),
        'the responder gets probe datagrams');
    my @e = events($u);
    is($e[0][1], "hello\0\xff", 'each is "hello\\x00\\xff"');
    is(count_lines(qr/ is down after /, $off), 0, 'replies match: up');

    cmd($u, 'down');
    ok($t->wait_log(qr/\[warn\] \d+#0: peer 127\.0\.0\.1:$pu is down after 1 failed check, upstream: "u"$/m,
            from => $off),
        'the responder is off: down after 1 failed check');
    like($t->log_since($off),
        qr/\[info\] \d+#0: recv\(\) failed \(111: Connection refused\) while checking health, upstream: "u", peer: "127\.0\.0\.1:$pu"$/m,
        '  the ICMP port unreachable is the reason');

    my $off2 = $t->log_size;
    cmd($u, 'up');
    ok($t->wait_log(qr/\[warn\] \d+#0: peer 127\.0\.0\.1:$pu is up after 1 passed check, upstream: "u"$/m,
            from => $off2),
        'on again: up after 1 passed check');

    $off2 = $t->log_size;
    cmd($u, 'reply no');
    ok($t->wait_log(qr/\[warn\] \d+#0: peer 127\.0\.0\.1:$pu is down after 1 failed check/m,
            from => $off2),
        'a reply that does not match ("no"): down');
    like($t->log_since($off2),
        qr/\[info\] \d+#0: health check failed: the reply does not match while checking health/m,
        '  because the reply does not match');

    # Silence: a responder that reads and never answers times out.
    $off2 = $t->log_size;
    cmd($u, 'reply ok again');
    ok($t->wait_log(qr/ is up after /m, from => $off2), 'up again');
    $off2 = $t->log_size;
    cmd($u, 'reply ');
    ok($t->wait_log(qr/\[info\] \d+#0: health check timed out \(110: Connection timed out\) while checking health, upstream: "u", peer: "127\.0\.0\.1:$pu"$/m,
            from => $off2),
        'no reply: the check times out (timeout=1s)');
    ok($t->wait_log(qr/ is down after 1 failed check/m, from => $off2),
        '  and the peer is down');
    $t->stop;
    stop_backends();
});

# ---- two workers ----------------------------------------------------------------

$t->section('2 workers: one verdict for both, one check per interval' => sub {
    my $port = $t->port;
    my ($pm, $ph) = ($t->port, $t->port);
    # Two peers on the same port of two loopback addresses; their checks go
    # to port= elsewhere, where only b listens. So a serves clients well
    # but fails its checks: any session that reached it would show.
    my $a  = backend(name => 'wa', addr => '127.0.0.2', port => $pm,
        reply => "a\n");
    my $b  = backend(name => 'wb', addr => '127.0.0.3', port => $pm,
        reply => "b\n");
    my $hb = backend(name => 'whb', addr => '127.0.0.3', port => $ph);
    $t->write_conf(conf(2, <<"EOF"));
    upstream u {
        zone u 64k;
        server 127.0.0.2:$pm;
        server 127.0.0.3:$pm;
        health_check interval=1s fails=1 port=$ph;
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    my $off = $t->log_size;
    $t->start(workers => 2) or return;
    ok($t->wait_log(qr/\[warn\] (\d+)#0: peer 127\.0\.0\.2:$pm is down after 1 failed check, upstream: "u"$/m,
            from => $off),
        'a fails its check on port=');
    my ($who) = $t->log_since($off) =~ /\[warn\] (\d+)#0: peer 127\.0\.0\.2:$pm is down/;
    is(count_lines(qr/ is down after /, $off), 1,
        'the down line is logged once, by one worker');

    my $off2 = $t->log_size;
    my $c = clients($port, 200, 10);
    is_deeply($c, { "b\n" => 200 },
        '200 clients through 2 workers: all on b, none on a');
    my @pids = session_pids($off2);
    is(scalar @pids, 2, 'both workers served sessions')
      or diag("pids: @pids; the verdict came from $who");
    is(nevents($a), 0, 'a never got a connection');

    # Probes of b's check port over ~6 intervals: about 6, not 12.
    my $n0 = nevents($hb);
    my $t0 = time;
    sleep 6.5;
    my $n = nevents($hb) - $n0;
    my $secs = time - $t0;
    ok($n >= 3 && $n <= 8,
        "one check per interval overall: $n probes in "
          . sprintf('%.1f', $secs) . ' s at interval=1s (2 workers)');
    my %by = map { $_ => 1 } $t->log_since($off) =~
      /\[debug\] (\d+)#0: tcp health check started while checking health, upstream: "u", peer: "127\.0\.0\.3:$pm"$/mg;
    diag('workers that ran checks of b: ' . join(' ', sort keys %by));
    $t->stop;
    stop_backends();
});

# ---- reload -----------------------------------------------------------------------

$t->section('a reload keeps the verdicts; checks restart in the new worker'
      => sub {
    my $port = $t->port;
    my ($pa, $pb) = ($t->port, $t->port);
    my $a = backend(name => 'ra', port => $pa, reply => "a\n", up => 0);
    my $b = backend(name => 'rb', port => $pb, reply => "b\n");
    my $conf = sub {
        my $interval = shift;
        conf(1, <<"EOF");
    upstream u {
        zone u 64k;
        server 127.0.0.1:$pa;
        server 127.0.0.1:$pb;
        health_check interval=$interval;
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    };
    $t->write_conf($conf->('500ms'));
    my $off = $t->log_size;
    $t->start(workers => 1) or return;
    ok($t->wait_log(qr/ peer 127\.0\.0\.1:$pa is down after 1 failed check/m,
            from => $off), 'a is down');

    # The interval changes, the servers do not: the zone keeps the state.
    $t->write_conf($conf->('400ms'));
    $off = $t->log_size;
    my @new = $t->reload(workers => 1);
    like($t->log_since($off),
        qr/\[info\] \d+#0: upstream "u" keeps its state in zone "u"$/m,
        'the group keeps its state');
    my $c = clients($port, 10, 5);
    is_deeply($c, { "b\n" => 10 }, 'after the reload a is still down');
    is(count_lines(qr/connect\(\) failed.*while connecting to upstream/, $off),
        0, '  no session tried it');
    ok($t->wait_log(qr/ $new[0]#0: tcp health check started while checking health, upstream: "u", peer: "127\.0\.0\.1:$pa"$/m,
            from => $off), 'the new worker checks a');
    is(count_lines(qr/ is down after /, $off), 0,
        '  without a second down line');

    cmd($a, 'up');
    ok($t->wait_log(qr/ $new[0]#0: peer 127\.0\.0\.1:$pa is up after 1 passed check, upstream: "u"$/m,
            from => $off), 'a listens: the new worker brings it up');

    # Without health_check, a kept group forgets the verdicts.
    my $off3 = $t->log_size;
    cmd($a, 'down');
    ok($t->wait_log(qr/ peer 127\.0\.0\.1:$pa is down after/m,
            from => $off3), 'a down again');
    $t->write_conf(conf(1, <<"EOF"));
    upstream u {
        zone u 64k;
        server 127.0.0.1:$pa;
        server 127.0.0.1:$pb;
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    cmd($a, 'up');
    $t->reload(workers => 1);
    $c = clients($port, 10, 5);
    is_deeply($c, { "a\n" => 5, "b\n" => 5 },
        'health_check removed: a is used again at once');
    $t->stop;
    stop_backends();
});

$t->section('a reload that shortens the interval applies it at once' => sub {
    my $port = $t->port;
    my $pa = $t->port;
    my $a = backend(name => 'ia', port => $pa, reply => "a\n");
    my $conf = sub {
        conf(1, <<"EOF");
    upstream u {
        zone u 64k;
        server 127.0.0.1:$pa;
        health_check interval=$_[0];
    }
    server { listen 127.0.0.1:$port; proxy_pass u; }
EOF
    };
    $t->write_conf($conf->('1h'));
    $t->start(workers => 1) or return;
    ok($t->wait_until(sub { nevents($a) >= 1 }, 10), 'the first check at once');
    sleep 1;
    is(nevents($a), 1, '  then none for an hour');
    $t->write_conf($conf->('300ms'));
    $t->reload(workers => 1);
    ok($t->wait_until(sub { nevents($a) >= 4 }, 5),
        'interval=300ms after a reload: checks follow within seconds');
    $t->stop;
    stop_backends();
});

# ---- -t errors ----------------------------------------------------------------------

$t->section('configuration errors' => sub {
    my @cases = (
        [ 'no zone', <<'EOF', 4, '"health_check" directive requires a "zone" in upstream "u"' ],
events { }
stream {
    upstream u { server 127.0.0.1:1;
        health_check; }
    server { listen 127.0.0.1:1; proxy_pass u; }
}
EOF
        [ 'udp without match', <<'EOF', 5, '"health_check" directive with "udp" requires "match="' ],
events { }
stream {
    upstream u {
        zone u;
        server 127.0.0.1:1; health_check udp; }
    server { listen 127.0.0.1:1; proxy_pass u; }
}
EOF
        [ 'unknown match', <<'EOF', 6, '"health_check" directive refers to unknown match "nope"' ],
events { }
stream {
    match yes { expect "x"; }
    upstream u {
        zone u;
        health_check match=nope;
        server 127.0.0.1:1;
    }
    server { listen 127.0.0.1:1; proxy_pass u; }
}
EOF
        [ 'bad parameter', <<'EOF', 3, '"health_check" directive has invalid parameter "fails=0"' ],
events { }
stream {
    upstream u { zone u; server 127.0.0.1:1; health_check fails=0; }
    server { listen 127.0.0.1:1; proxy_pass u; }
}
EOF
        [ 'unknown parameter', <<'EOF', 3, '"health_check" directive has invalid parameter "mandatory"' ],
events { }
stream {
    upstream u { zone u; server 127.0.0.1:1; health_check mandatory; }
    server { listen 127.0.0.1:1; proxy_pass u; }
}
EOF
        [ 'duplicate match', <<'EOF', 4, '"match" directive has duplicate match "m"' ],
events { }
stream {
    match m { send "x"; }
    match m { send "y"; }
    server { listen 127.0.0.1:1; return x; }
}
EOF
        [ 'bad regex', <<'EOF', 3, '"expect" directive has invalid regex "(x": missing closing parenthesis' ],
events { }
stream {
    match m { expect ~ "(x"; }
    server { listen 127.0.0.1:1; return x; }
}
EOF
        [ 'bad escape', <<'EOF', 3, '"send" directive has invalid escape "\\xg0"' ],
events { }
stream {
    match m { send "a\xg0"; }
    server { listen 127.0.0.1:1; return x; }
}
EOF
        [ 'send outside match', <<'EOF', 3, '"send" directive is not allowed here' ],
events { }
stream {
    upstream u { zone u; server 127.0.0.1:1; send "x"; }
    server { listen 127.0.0.1:1; proxy_pass u; }
}
EOF
    );
    my $n = 0;
    for my $c (@cases) {
        my ($name, $text, $line, $msg) = @$c;
        my $main = $t->write_conf($text, raw => 1, name => 'e' . ++$n . '.conf');
        my $r = $t->run('-p', "$P/", '-c', $main, '-t');
        is($r->{code}, 1, "$name: -t exits 1");
        is($r->{stderr}, "$main:$line: $msg\n"
              . "wmproxy: configuration file $main test failed\n",
            "$name: \"$msg\" at line $line");
    }
    my $ok = $t->write_conf(<<'EOF', raw => 1, name => 'good.conf');
events { }
stream {
    upstream u {
        zone u 64k;
        server 127.0.0.1:1;
        health_check interval=2s jitter=1s fails=3 passes=2 timeout=3s port=2 udp match=m;
    }
    server { listen 127.0.0.1:1; proxy_pass u; }
    match m { send "\x00\x01"; expect ~* "^ok"; }
}
EOF
    my $r = $t->run('-p', "$P/", '-c', $ok, '-t');
    is($r->{code}, 0, 'every parameter, match defined after use: -t passes')
      or diag($r->{stderr});
});

$t->done;
