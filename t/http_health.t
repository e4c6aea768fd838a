#!/usr/bin/perl
# HTTP active health checks (wmproxy.conf(5), HTTP UPSTREAM MODULE:
# health_check, match, status, header, body): the exact request a check
# sends (GET uri= HTTP/1.1, the group's name as Host) seen by the backend,
# a flapping backend (200, 503, closed) taken down and up with the exact
# warn lines and reasons, requests going only to healthy servers, a match
# with status, header and body lines (Content-Length and chunked bodies, a
# malformed response), two workers sharing the verdicts with one check
# per interval overall, verdicts kept across a reload, and the -t
# errors. The backends are forked children of this test, switched through
# a pipe; each logs the requests it gets to a file so that checks and
# proxied requests can be counted.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmHttpClient;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

my $t = WmTest->new(timeout => 300);
my $P = $t->prefix;
my @backends;

my $PROBE = "User-Agent: wmproxy health check\r\n";

# ---- mock backends ------------------------------------------------------------
#
# backend(name => N, addr => A, port => P, reply => RAW, up => 1)
# A child listening on A:P: for each connection it reads the request head
# (1 s at most), writes RAW and closes. Commands on its pipe: "down"
# closes the listener (connections are refused), "up" opens it again,
# "reply RAW" (with \r \n escapes) changes the response. Each request is a
# line "TIME HEX" in PREFIX/NAME.events.

sub backend {
    my %o = (addr => '127.0.0.1', up => 1, @_);
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

sub unescape {
    my $s = shift;
    $s =~ s/\\r/\r/g;
    $s =~ s/\\n/\n/g;
    return $s;
}

sub backend_loop {
    my ($ctl, $ack, $events, %o) = @_;
    alarm 0;
    $SIG{$_} = 'DEFAULT' for qw(ALRM TERM INT);
    $SIG{PIPE} = 'IGNORE';
    my $reply = unescape($o{reply} // '');
    my $sock;
    my $open = sub {
        $sock = IO::Socket::INET->new(LocalAddr => "$o{addr}:$o{port}",
            Listen => 128, ReuseAddr => 1)
          or die "backend $o{name}: bind $o{addr}:$o{port}: $!";
    };
    $open->() if $o{up};
    print $ack "ok\n";
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
                    $reply = unescape($1);
                }
                print $ack "ok\n";
            }
            next;
        }
        next unless $sock && vec($rout, fileno($sock), 1);
        my $c = $sock->accept or next;
        my $got = '';
        my $end = time + 1;
        while (index($got, "\r\n\r\n") < 0 && time < $end) {
            my $cin = '';
            vec($cin, fileno($c), 1) = 1;
            last unless select($cin, undef, undef, $end - time);
            last unless sysread($c, $got, 4096, length $got);
        }
        if (open my $fh, '>>', $events) {
            printf $fh "%.3f %s\n", time, unpack('H*', $got);
            close $fh;
        }
        syswrite($c, $reply) if length $reply;
        close $c;
    }
}

sub cmd {
    my ($b, $cmd) = @_;
    print { $b->{ctl} } "$cmd\n";
    ok(wait_ack($b), "backend $b->{name}: $cmd");
}

# The requests a backend got since the $from-th: [time, bytes].
sub events {
    my ($b, $from) = @_;
    open my $fh, '<', $b->{events} or return ();
    my @e = map { /^(\S+) (\S*)$/ ? [ $1, pack('H*', $2) ] : () } <$fh>;
    close $fh;
    return @e[ ($from // 0) .. $#e ];
}

sub nevents { my @e = events(@_); return scalar @e }
sub probes  { scalar grep { index($_->[1], $PROBE) >= 0 } events(@_) }
sub proxied { scalar grep { index($_->[1], $PROBE) < 0 } events(@_) }

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

sub ok200 {
    my $body = shift;
    return 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: '
      . length($body) . '\r\nConnection: close\r\n\r\n' . $body;
}

sub conf {
    my ($workers, $http) = @_;
    return "worker_processes $workers;\nevents { }\nhttp {\n$http}\n";
}

sub count_lines {
    my ($re, $off) = @_;
    return scalar grep { $_ =~ $re } split /\n/, $t->log_since($off);
}

# $n requests through $port, one connection each: { body => count }, and
# the worker pids that answered (X-Worker) in %$pids when given.
sub requests {
    my ($port, $n, $pids) = @_;
    my %count;
    for (1 .. $n) {
        my $c = WmHttpClient->new($port);
        unless ($c) {
            $count{'(no connection)'}++;
            next;
        }
        $c->send("GET /app HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n");
        my $r = $c->read_response(timeout => 10);
        $count{ $r->{error} ? "($r->{error})" : "$r->{status} $r->{body}" }++;
        $pids->{ $r->{h}{'x-worker'} // '' } = 1 if $pids;
    }
    return \%count;
}

# ---- the request, default verdict, flapping -----------------------------------

$t->section('a flapping backend: 200, 503, closed, back' => sub {
    my $port = $t->port;
    my ($pa, $pb) = ($t->port, $t->port);
    my $a = backend(name => 'a', port => $pa, reply => ok200('a'));
    my $b = backend(name => 'b', port => $pb, reply => ok200('b'));
    $t->write_conf(conf(1, <<"EOF"));
    upstream backend.test {
        zone u 64k;
        server 127.0.0.1:$pa;
        server 127.0.0.1:$pb;
        health_check interval=300ms fails=2 passes=2 uri=/health?full=1;
    }
    server {
        listen 127.0.0.1:$port;
        location / { proxy_pass http://backend.test; }
    }
EOF
    my $off = $t->log_size;
    $t->start(workers => 1) or return;
    ok($t->wait_log(qr/ http health check started while checking health, upstream: "backend\.test", peer: "127\.0\.0\.1:$pa"$/m, from => $off),
        'checks start with the worker, type http');
    ok($t->wait_until(sub { probes($a) >= 2 && probes($b) >= 2 }, 10),
        'both backends get checks');
    my @e = events($a);
    is($e[0][1], "GET /health?full=1 HTTP/1.1\r\nHost: backend.test\r\n"
          . "User-Agent: wmproxy health check\r\nConnection: close\r\n\r\n",
        'the check is GET uri= HTTP/1.1 with the group name as Host');
    is(count_lines(qr/ is (?:down|up) after /, $off), 0,
        '200: no transition');

    cmd($a, 'reply HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n');
    ok($t->wait_log(qr/^\S+ \S+ \[warn\] \d+#0: peer 127\.0\.0\.1:$pa is down after 2 failed checks, upstream: "backend\.test"$/m,
            from => $off),
        '503: "peer 127.0.0.1:A is down after 2 failed checks" at warn');
    like($t->log_since($off),
        qr/\[info\] \d+#0: health check failed: status 503 while checking health, upstream: "backend\.test", peer: "127\.0\.0\.1:$pa"$/m,
        '  each failure logged at info: "health check failed: status 503"');

    my $n0 = proxied($a);
    my $c = requests($port, 20);
    is_deeply($c, { '200 b' => 20 }, 'while a is down, 20 requests all get b');
    is(proxied($a), $n0, '  and a got none of them');

    # Closed: still down, with the connect error as the reason.
    my $off2 = $t->log_size;
    cmd($a, 'down');
    ok($t->wait_log(qr/\[info\] \d+#0: connect\(\) failed \(111: Connection refused\) while checking health, upstream: "backend\.test", peer: "127\.0\.0\.1:$pa"$/m,
            from => $off2), 'closed: connect() failed (111)');
    is(count_lines(qr/ is (?:down|up) after /, $off2), 0,
        '  no new transition');

    cmd($a, 'up');
    cmd($a, 'reply ' . ok200('a'));
    my $t0 = time;
    ok($t->wait_log(qr/^\S+ \S+ \[warn\] \d+#0: peer 127\.0\.0\.1:$pa is up after 2 passed checks, upstream: "backend\.test"$/m,
            from => $off2),
        '200 again: "peer 127.0.0.1:A is up after 2 passed checks"');
    ok(time - $t0 >= 0.2, '  after 2 checks 300 ms apart');
    $c = requests($port, 20);
    is_deeply($c, { '200 a' => 10, '200 b' => 10 },
        'a is used again: 20 requests split 10/10');

    # A 3xx passes, a 404 fails.
    $off2 = $t->log_size;
    cmd($b, 'reply HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n');
    cmd($a, 'reply HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    ok($t->wait_log(qr/peer 127\.0\.0\.1:$pa is down after 2 failed checks/m,
            from => $off2), '404: down');
    my $pr = probes($b);
    ok($t->wait_until(sub { probes($b) >= $pr + 3 }, 10), 'b is checked on');
    is(count_lines(qr/peer 127\.0\.0\.1:$pb is down/, $off2), 0,
        '302: b stays up');
    $t->stop;
    stop_backends();
});

# ---- match ----------------------------------------------------------------------

$t->section('match: status, header and body lines' => sub {
    my $port = $t->port;
    my $pa = $t->port;
    my $good = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Foo: bar\r\n'
      . 'Content-Length: 9\r\n\r\nall alive';
    my $a = backend(name => 'ma', port => $pa, reply => $good);
    $t->write_conf(conf(1, <<"EOF"));
    match healthy {
        status 200-299;
        header Content-Type ~ text;
        header X-Foo = bar;
        header ! X-Bad;
        body ~ "alive\$";
    }
    upstream u {
        zone u 64k;
        server 127.0.0.1:$pa;
        health_check interval=300ms match=healthy;
    }
    server {
        listen 127.0.0.1:$port;
        location / { proxy_pass http://u; }
    }
EOF
    my $off = $t->log_size;
    $t->start(workers => 1) or return;
    ok($t->wait_until(sub { probes($a) >= 3 }, 10), 'checks run');
    is(count_lines(qr/ is (?:down|up) after /, $off), 0,
        'every line holds: up');

    my @steps = (
        [ 'X-Bad: 1 added',
          'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Foo: bar\r\nX-Bad: 1\r\nContent-Length: 9\r\n\r\nall alive',
          'the header does not match' ],
        [ 'X-Foo: baz',
          'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Foo: baz\r\nContent-Length: 9\r\n\r\nall alive',
          'the header does not match' ],
        [ 'Content-Type: application/json',
          'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Foo: bar\r\nContent-Length: 9\r\n\r\nall alive',
          'the header does not match' ],
        [ 'body "all dead"',
          'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Foo: bar\r\nContent-Length: 8\r\n\r\nall dead',
          'the body does not match' ],
        [ 'status 302',
          'HTTP/1.1 302 Found\r\nContent-Type: text/plain\r\nX-Foo: bar\r\nContent-Length: 9\r\n\r\nall alive',
          'status 302 does not match' ],
        [ 'a body cut short',
          'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Foo: bar\r\nContent-Length: 90\r\n\r\nall alive',
          'upstream prematurely closed connection' ],
        [ 'a bad status line',
          'HTTP/1.1 2000 OK\r\n\r\n',
          'upstream sent invalid status code' ],
        [ 'no response',
          '',
          'no response' ],
    );
    my $goods = [
        [ 'Content-Length body', $good ],
        [ 'chunked body',
          'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Foo: bar\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nall \r\n5\r\nalive\r\n0\r\n\r\n' ],
        [ 'body until close',
          'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Foo: bar\r\n\r\nall alive' ],
    ];
    my $i = 0;
    for my $s (@steps) {
        my ($what, $reply, $reason) = @$s;
        my $o = $t->log_size;
        cmd($a, "reply $reply");
        ok($t->wait_log(qr/\[warn\] \d+#0: peer 127\.0\.0\.1:$pa is down after 1 failed check, upstream: "u"$/m,
                from => $o), "$what: down");
        like($t->log_since($o),
            qr/\[info\] \d+#0: health check failed: \Q$reason\E while checking health, upstream: "u", peer: "127\.0\.0\.1:$pa"$/m,
            "  because \"$reason\"");
        my ($gname, $greply) = @{ $goods->[ $i++ % @$goods ] };
        $o = $t->log_size;
        cmd($a, "reply $greply");
        ok($t->wait_log(qr/\[warn\] \d+#0: peer 127\.0\.0\.1:$pa is up after 1 passed check, upstream: "u"$/m,
                from => $o), "  a good response again ($gname): up");
    }
    my $c = requests($port, 3);
    is_deeply($c, { '200 all alive' => 3 }, 'requests pass through');
    $t->stop;
    stop_backends();
});

# ---- two workers ----------------------------------------------------------------

$t->section('2 workers: one verdict for both, one check per interval' => sub {
    my $port = $t->port;
    my ($pm, $ph, $pbh) = ($t->port, $t->port, $t->port);
    # Two servers on the same port of two loopback addresses; checks go to
    # port=, where a answers 503 and b 200. a serves requests well: any
    # request that reached it would show.
    my $a  = backend(name => 'wa', addr => '127.0.0.2', port => $pm,
        reply => ok200('a'));
    my $b  = backend(name => 'wb', addr => '127.0.0.3', port => $pm,
        reply => ok200('b'));
    my $ha = backend(name => 'wha', addr => '127.0.0.2', port => $ph,
        reply => 'HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n');
    my $hb = backend(name => 'whb', addr => '127.0.0.3', port => $ph,
        reply => ok200('ok'));
    $t->write_conf(conf(2, <<"EOF"));
    upstream u {
        zone u 64k;
        server 127.0.0.2:$pm;
        server 127.0.0.3:$pm;
        health_check interval=1s port=$ph;
    }
    server {
        listen 127.0.0.1:$port;
        add_header X-Worker \$pid;
        location / { proxy_pass http://u; }
    }
EOF
    my $off = $t->log_size;
    $t->start(workers => 2) or return;
    ok($t->wait_log(qr/\[warn\] \d+#0: peer 127\.0\.0\.2:$pm is down after 1 failed check, upstream: "u"$/m,
            from => $off),
        'a fails its check on port= (503)');
    is(count_lines(qr/ is down after /, $off), 1,
        'the down line is logged once, by one worker');

    my %pids;
    my $c = requests($port, 100, \%pids);
    is_deeply($c, { '200 b' => 100 },
        '100 requests through 2 workers: all on b');
    is(scalar(grep { length } keys %pids), 2, 'both workers answered')
      or diag('pids: ' . join(' ', keys %pids));
    is(nevents($a), 0, 'a never got a request, not even a check');

    my $n0 = probes($hb);
    my $t0 = time;
    sleep 6.5;
    my $n = probes($hb) - $n0;
    my $secs = time - $t0;
    ok($n >= 3 && $n <= 8,
        "one check per interval overall: $n checks in "
          . sprintf('%.1f', $secs) . ' s at interval=1s (2 workers)');
    $t->stop;
    stop_backends();
});

# ---- reload ---------------------------------------------------------------------

$t->section('a reload keeps the verdicts; the new worker checks on' => sub {
    my $port = $t->port;
    my ($pa, $pb) = ($t->port, $t->port);
    my $a = backend(name => 'ra', port => $pa,
        reply => 'HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n');
    my $b = backend(name => 'rb', port => $pb, reply => ok200('b'));
    my $conf = sub {
        conf(1, <<"EOF");
    upstream u {
        zone u 64k;
        server 127.0.0.1:$pa;
        server 127.0.0.1:$pb;
        health_check interval=$_[0] uri=/$_[1];
    }
    server {
        listen 127.0.0.1:$port;
        location / { proxy_pass http://u; }
    }
EOF
    };
    $t->write_conf($conf->('500ms', 'one'));
    my $off = $t->log_size;
    $t->start(workers => 1) or return;
    ok($t->wait_log(qr/ peer 127\.0\.0\.1:$pa is down after 1 failed check/m,
            from => $off), '500: a is down');

    $t->write_conf($conf->('400ms', 'two'));
    $off = $t->log_size;
    my $n0 = nevents($a);
    my @new = $t->reload(workers => 1);
    like($t->log_since($off),
        qr/\[info\] \d+#0: upstream "u" keeps its state in zone "u"$/m,
        'the group keeps its state');
    my $c = requests($port, 10);
    is_deeply($c, { '200 b' => 10 }, 'after the reload a is still down');
    ok($t->wait_log(qr/ $new[0]#0: http health check started while checking health, upstream: "u", peer: "127\.0\.0\.1:$pa"$/m,
            from => $off), 'the new worker checks a');
    ok($t->wait_until(sub {
            grep { $_->[1] =~ m{^GET /two } } events($a, $n0) }, 10),
        '  with the new uri=');
    is(count_lines(qr/ is down after /, $off), 0, '  no second down line');
    cmd($a, 'reply ' . ok200('a'));
    ok($t->wait_log(qr/ $new[0]#0: peer 127\.0\.0\.1:$pa is up after 1 passed check, upstream: "u"$/m,
            from => $off), '200: the new worker brings a up');
    $t->stop;
    stop_backends();
});

# ---- -t errors ----------------------------------------------------------------------

$t->section('configuration errors' => sub {
    my $srv = "    server { listen 127.0.0.1:1; location / { proxy_pass http://u; } }\n";
    my @cases = (
        [ 'no zone', "upstream u { server 127.0.0.1:1;\n    health_check; }\n",
          4, '"health_check" directive requires a "zone" in upstream "u"' ],
        [ 'unknown match',
          "upstream u { zone u; server 127.0.0.1:1;\n    health_check match=nope; }\n",
          4, '"health_check" directive refers to unknown match "nope"' ],
        [ 'uri without /',
          "upstream u { zone u; server 127.0.0.1:1; health_check uri=health; }\n",
          3, '"health_check" directive has invalid parameter "uri=health"' ],
        [ 'udp', "upstream u { zone u; server 127.0.0.1:1; health_check udp; }\n",
          3, '"health_check" directive has invalid parameter "udp"' ],
        [ 'bad passes',
          "upstream u { zone u; server 127.0.0.1:1; health_check passes=0; }\n",
          3, '"health_check" directive has invalid parameter "passes=0"' ],
        [ 'duplicate health_check',
          "upstream u { zone u; server 127.0.0.1:1; health_check;\n    health_check; }\n",
          4, '"health_check" directive is duplicate' ],
        [ 'bad status', "match m { status 200 6xx; }\n",
          3, '"status" directive has invalid status "6xx"' ],
        [ 'status !', "match m { status !; }\n",
          3, '"status" directive has no status code' ],
        [ 'bad header operator', "match m { header X-Foo == bar; }\n",
          3, '"header" directive has invalid operator "=="' ],
        [ 'bad body regex', "match m { body ~ \"(x\"; }\n",
          3, '"body" directive has invalid regex "(x": missing closing parenthesis' ],
        [ 'body =', "match m { body = ok; }\n",
          3, '"body" directive has invalid operator "="' ],
        [ 'duplicate match', "match m { status 200; }\nmatch m { status 201; }\n",
          4, '"match" directive has duplicate match "m"' ],
        [ 'status outside match',
          "upstream u { zone u; server 127.0.0.1:1; status 200; }\n",
          3, '"status" directive is not allowed here' ],
        [ 'stream directive in an http match', "match m { expect \"x\"; }\n",
          3, '"expect" directive is not allowed here' ],
    );
    my $n = 0;
    for my $c (@cases) {
        my ($name, $text, $line, $msg) = @$c;
        my $main = $t->write_conf("events { }\nhttp {\n$text$srv}\n",
            raw => 1, name => 'e' . ++$n . '.conf');
        my $r = $t->run('-p', "$P/", '-c', $main, '-t');
        is($r->{code}, 1, "$name: -t exits 1");
        is($r->{stderr}, "$main:$line: $msg\n"
              . "wmproxy: configuration file $main test failed\n",
            "$name: \"$msg\" at line $line");
    }
    my $ok = $t->write_conf(<<'EOF', raw => 1, name => 'good.conf');
events { }
http {
    upstream u {
        zone u 64k;
        server 127.0.0.1:1;
        health_check interval=2s jitter=1s fails=3 passes=2 timeout=3s port=2 uri=/h?x=1 match=m;
    }
    server { listen 127.0.0.1:1; location / { proxy_pass http://u; } }
    match m {
        status ! 500-599 404;
        header Content-Type ~* ^text/;
        header X-A != b;
        header X-B !~ c;
        header X-C;
        header ! X-D;
        body !~* error;
    }
}
EOF
    my $r = $t->run('-p', "$P/", '-c', $ok, '-t');
    is($r->{code}, 0, 'every parameter and line, match after use: -t passes')
      or diag($r->{stderr});
});

$t->done;
