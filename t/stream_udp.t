#!/usr/bin/perl
# UDP proxying in stream servers (wmproxy.conf(5), proxy_pass with
# listen ... udp, proxy_responses, proxy_requests, udp_sessions_max): 50
# clients through one port each get only their own replies, over one
# upstream socket each, spread by round robin over 2 backends;
# proxy_responses ends a session after its replies (1, 2 and 0);
# proxy_requests; the idle timeout ends a session (seen in the access log);
# an ICMP refusal moves a session to the next backend and disables the
# refusing one; a silent backend times out with 502; allow/deny, limit_conn
# and udp_sessions_max on UDP sessions; and the -t errors. The backends are
# UDP echo servers in child processes that prefix every reply with their
# name and the source port they saw (the session's upstream socket), and
# log every datagram they get.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmUdp qw(client replies);
use IO::Socket::INET;
use IO::Socket::IP;
use POSIX ();
use Socket qw(unpack_sockaddr_in);
use Time::HiRes qw(sleep time);

my $t = WmTest->new(timeout => 240);
my $P = $t->prefix;
my @backends;

# ---- mock backends --------------------------------------------------------
#
# A child process bound to 127.0.0.1:PORT answering each datagram D with
# "NAME:SRCPORT:D". D = "xN:..." gets N such replies ("...#1" to "...#N"),
# D = "silent..." none. Each datagram is a line "SRCPORT D" in
# PREFIX/NAME.log.

sub backend {
    my ($name, $port) = @_;
    my $log = "$P/$name.log";
    open my $tmp, '>', $log or die "$log: $!";
    close $tmp;
    push @backends, WmUdp::backend($port, sub {
        my ($sock, $d, $from, $sport) = @_;
        if (open my $fh, '>>', $log) {
            print $fh "$sport $d\n";
            close $fh;
        }
        return if $d =~ /^silent/;
        if ($d =~ /^x(\d+):/) {
            send($sock, "$name:$sport:$d#$_", 0, $from) for 1 .. $1;
        } else {
            send($sock, "$name:$sport:$d", 0, $from);
        }
    });
    return $log;
}

sub stop_backends {
    for my $pid (@backends) {
        kill 'TERM', $pid;
        waitpid($pid, 0);
    }
    @backends = ();
}

END { stop_backends() if @backends }

# ---- clients --------------------------------------------------------------

sub ask {
    my ($c, $msg, $n, $quiet) = @_;
    send($c, $msg, 0);
    return replies($c, $n // 1, $quiet);
}

sub lines {
    my $rel = shift;
    return grep { length } split /\n/, $t->log_text($rel);
}

# Access log lines of a server: { port, proto, status, sent, received,
# upstream, time, termination }.
sub sessions {
    my $name = shift;
    return map {
        my @f = split / /;
        { port => $f[0], proto => $f[1], status => $f[2], sent => $f[3],
          received => $f[4], upstream => $f[5], time => $f[6],
          termination => $f[7] }
    } lines("logs/$name.access");
}

sub backend_lines {
    my $log = shift;
    open my $fh, '<', $log or return ();
    my @l = map { chomp; $_ } <$fh>;
    close $fh;
    return @l;
}

# ---- the configuration ----------------------------------------------------

my %port = map { $_ => $t->udp_port }
  qw(rr resp1 resp2 resp0 req2 fail dead silent deny allow cap limit pp1
  pp2 v6 burst rcvbuf);
my ($b1, $b2, $closed) = ($t->udp_port, $t->udp_port, $t->udp_port);
my $b1log = backend('b1', $b1);
my $b2log = backend('b2', $b2);

sub server {
    my ($name, $body) = @_;
    return "    server { listen 127.0.0.1:$port{$name} udp; "
      . "access_log logs/$name.access s; $body }\n";
}

$t->write_conf(<<"EOF"
worker_processes 1;
events { }
stream {
    log_format s '\$remote_port \$protocol \$status \$bytes_sent '
                 '\$bytes_received \$upstream_addr \$session_time \$termination';
    limit_conn_zone \$binary_remote_addr zone=udp:1m;
    upstream two { server 127.0.0.1:$b1; server 127.0.0.1:$b2; }
    upstream half_dead { server 127.0.0.1:$closed; server 127.0.0.1:$b1; }
    upstream dead { server 127.0.0.1:$closed; }
EOF
    . server(rr => 'proxy_pass two; proxy_timeout 2s;')
    . server(burst => "proxy_pass 127.0.0.1:$b1; proxy_timeout 1s;")
    . server(resp1 => "proxy_pass 127.0.0.1:$b1; proxy_responses 1;")
    . server(resp2 => "proxy_pass 127.0.0.1:$b1; proxy_responses 2;")
    . server(resp0 => "proxy_pass 127.0.0.1:$b1; proxy_responses 0;")
    . server(req2 => "proxy_pass 127.0.0.1:$b1; proxy_requests 2; "
          . 'proxy_responses 1;')
    . server(fail => 'proxy_pass half_dead; proxy_responses 1;')
    . server(dead => 'proxy_pass dead; proxy_responses 1;')
    . server(silent => "proxy_pass 127.0.0.1:$b1; proxy_responses 1; "
          . 'proxy_timeout 1s;')
    . server(deny => "proxy_pass 127.0.0.1:$b2; deny 127.0.0.1; allow all;")
    . server(allow => "proxy_pass 127.0.0.1:$b2; proxy_timeout 1s; "
          . 'allow 127.0.0.1; deny all;')
    . server(cap => "proxy_pass 127.0.0.1:$b2; udp_sessions_max 2; "
          . 'proxy_timeout 2s;')
    . server(limit => "proxy_pass 127.0.0.1:$b2; limit_conn udp 1; "
          . 'proxy_timeout 2s;')
    . server(pp1 => "proxy_pass 127.0.0.1:$b1; proxy_protocol on;")
    . server(pp2 => "proxy_pass 127.0.0.1:$b1; proxy_protocol on; "
          . 'proxy_protocol_version 2;')
    . "    server { listen 127.0.0.1:$port{rcvbuf} udp rcvbuf=100k; "
    . "proxy_pass 127.0.0.1:$b1; }\n"
    . "    server { listen [::1]:$port{v6} udp; proxy_pass 127.0.0.1:$b2; "
    . "access_log logs/v6.access s; }\n"
    . "}\n");

# Each section starts wmproxy with this configuration (and stops it).

# ---- 50 clients, round robin ----------------------------------------------

$t->section('50 clients through one port get only their own replies' => sub {
    $t->start or return;
    my @c = map { client($port{rr}) } 1 .. 50;
    my %sent;
    for my $j (1 .. 3) {
        for my $i (0 .. 49) {
            my $msg = "c$i-$j" . ('.' x $i);
            send($c[$i], $msg, 0);
            $sent{$i}{bytes} += length $msg;
            push @{ $sent{$i}{msgs} }, $msg;
        }
    }
    my (%socket_of, %per_backend, $own);
    for my $i (0 .. 49) {
        my @r = replies($c[$i], 3);
        my @who = map { /^(b\d):(\d+):(.*)$/s ? [ $1, $2, $3 ] : () } @r;
        my $ok = @who == 3
          && join(',', sort map { $_->[2] } @who)
             eq join(',', sort @{ $sent{$i}{msgs} })
          && !grep { "$_->[0]:$_->[1]" ne "$who[0][0]:$who[0][1]" } @who;
        $own++ if $ok;
        diag("client $i got: @r") unless $ok;
        next unless @who;
        $socket_of{"$who[0][0]:$who[0][1]"}++;
        $per_backend{ $who[0][0] }++;
        $sent{$i}{got} = 0;
        $sent{$i}{got} += length for @r;
        $sent{$i}{upstream} = $who[0][0] eq 'b1' ? $b1 : $b2;
    }
    is($own, 50, 'each client got its 3 replies, from one upstream socket');
    is(scalar keys %socket_of, 50, '50 distinct upstream sockets');
    is_deeply(\%per_backend, { b1 => 25, b2 => 25 },
        'round robin: 25 sessions on each backend');

    # proxy_timeout 2s: each session ends idle and is logged then.
    ok($t->wait_until(sub { sessions('rr') == 50 }, 15),
        '50 sessions logged once idle') or diag(scalar sessions('rr'));
    my %by_port = map { $_->{port} => $_ } sessions('rr');
    my $exact = 0;
    for my $i (0 .. 49) {
        my $s = $by_port{ $c[$i]->sockport } or next;
        $exact++ if $s->{proto} eq 'UDP' && $s->{status} eq '200'
          && $s->{received} == $sent{$i}{bytes}
          && $s->{sent} == $sent{$i}{got}
          && $s->{upstream} eq "127.0.0.1:$sent{$i}{upstream}"
          && $s->{time} >= 1.9 && $s->{time} < 10;
    }
    is($exact, 50, 'access log: UDP 200, exact bytes, upstream, '
        . 'session time of the idle timeout');
    is(scalar(() = $t->log_text =~
            /\[info\] \d+#0: udp session timed out \(idle \d+ ms\) .* while proxying udp datagrams, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$port{rr}, upstream: "127\.0\.0\.1:(?:$b1|$b2)"/g),
        50, 'the timeouts are in the error log');
});

# ---- bursts ----------------------------------------------------------------
#
# Datagrams of one client read together leave together (segmented: one
# buffer for datagrams of one size, the last one shorter); each must
# still reach the backend as the client sent it, in order.

$t->section('bursts of mixed sizes reach the backend whole and in order'
      => sub {
    $t->start or return;
    my $c = client($port{burst});
    my @sizes = (1400, 1400, 1400, 700, 3000, 3000, 3000, 2999, 20, 20, 21,
        8, 5000, 5000, 1400, 1400, 1400, 1400, 9000, 8000, 8000, 100, 100,
        100);
    my (@sent, $bytes, $got);
    for my $b (1 .. 10) {
        for my $i (0 .. $#sizes) {
            my $k = @sent;
            my $head = "g:$k:";
            my $d = $head . (chr(97 + $k % 26) x ($sizes[$i] - length $head));
            $d = substr($d, 0, $sizes[$i]);
            send($c, $d, 0);
            push @sent, $d;
            $bytes += length $d;
        }
        $got += replies($c, scalar @sizes, 5);
    }
    is($got, scalar @sent, '240 replies came back');
    my @at = grep { / g:/ } backend_lines($b1log);
    my %ports = map { (split / /)[0] => 1 } @at;
    my @data = map { (split / /, $_, 2)[1] } @at;
    is(scalar @data, 240, 'the backend got 240 datagrams');
    my $same = 0;
    for my $k (0 .. $#sent) {
        $same++ if defined $data[$k] && $data[$k] eq $sent[$k];
    }
    is($same, 240, 'each as sent, in order');
    is(scalar keys %ports, 1, 'from one upstream socket');
    ok($t->wait_until(sub { sessions('burst') == 1 }, 10),
        'the session is logged once idle');
    my ($s) = sessions('burst');
    is($s->{received} // '', $bytes, 'with every byte received counted');

    # Replies of one client that follow each other leave together too:
    # 24 of one request, "#1" to "#9" of one size, then longer ones.
    my $c2 = client($port{burst});
    my $pad = 'r' x 1000;
    my @r = ask($c2, "x24:$pad", 24, 5);
    my $sport = (split /:/, $r[0] // '::')[1] // '';
    is_deeply(\@r, [ map { "b1:$sport:x24:$pad#$_" } 1 .. 24 ],
        '24 replies to one datagram: each as sent, in order');
});

# ---- rcvbuf ----------------------------------------------------------------

$t->section('listen ... udp rcvbuf= sizes the upstream sockets too' => sub {
    my $max = do { open my $fh, '<', '/proc/sys/net/core/rmem_max'; <$fh> }
      // 0;
    plan skip_all => "net.core.rmem_max $max is below 100k" if $max < 102400;
    $t->start or return;
    my $c = client($port{rcvbuf});
    my ($r) = ask($c, 'hello', 1);
    my ($sport) = ($r // '') =~ /^b1:(\d+):hello$/;
    ok($sport, 'a reply through the upstream socket') or return;
    my $ss = `ss -uamn 'sport = :$sport' 2>&1`;
    like($ss, qr/\brb204800\b/,
        'its receive buffer is 100k (the kernel shows it doubled)')
      or diag($ss);
});

# ---- proxy_responses and proxy_requests -----------------------------------

$t->section('proxy_responses and proxy_requests end sessions' => sub {
    $t->start or return;
    my $c = client($port{resp1});
    my ($r1) = ask($c, 'q1');
    my ($r2) = ask($c, 'q2');
    like($r1, qr/^b1:(\d+):q1$/, 'proxy_responses 1: a reply');
    like($r2, qr/^b1:(\d+):q2$/, 'and another for the next request');
    my ($p1) = ($r1 // '') =~ /^b1:(\d+):/;
    my ($p2) = ($r2 // '') =~ /^b1:(\d+):/;
    isnt($p1, $p2, 'the second request came in a new session');
    ok($t->wait_until(sub { sessions('resp1') == 2 }, 5), 'both logged');
    is_deeply([ map { "$_->{status} $_->{received} $_->{sent} $_->{termination}" }
            sessions('resp1') ],
        [ '200 2 ' . length($r1) . ' done', '200 2 ' . length($r2) . ' done' ],
        'access log: 200, 2 bytes in, the reply out, each');
    cmp_ok((sessions('resp1'))[0]{time}, '<', 5,
        'ended by the reply, not the 10m timeout');

    # A backend that sends 3 replies: proxy_responses 1 passes one.
    my @r = ask($c, 'x3:burst', 5, 1);
    is_deeply(\@r, [ "b1:" . ((split /:/, $r[0] // '::')[1]) . ':x3:burst#1' ],
        'proxy_responses 1 with 3 replies sent: the client gets the first');

    $c = client($port{resp2});
    @r = ask($c, 'x2:two', 5, 1);
    is(scalar @r, 2, 'proxy_responses 2: both replies');
    ok($t->wait_until(sub { sessions('resp2') == 1 }, 5),
        'and the session ends') or diag($t->log_text('logs/resp2.access'));

    $c = client($port{resp0});
    @r = ask($c, 'fire', 1, 1);
    is_deeply(\@r, [], 'proxy_responses 0: no reply is passed');
    ok($t->wait_until(sub { sessions('resp0') == 1 }, 5),
        'the session ends at once');
    is((sessions('resp0'))[0]{sent}, 0, '0 bytes sent to the client');
    ok($t->wait_until(sub { grep { / fire$/ } backend_lines($b1log) }, 5),
        'the datagram reached the backend');

    # proxy_requests 2: two datagrams per session, the third starts another.
    $c = client($port{req2});
    my @p = map { my ($x) = ask($c, "r$_"); ($x // '') =~ /^b1:(\d+):r\d$/ ? $1 : '' }
      1 .. 3;
    ok($p[0] && $p[0] eq $p[1], 'proxy_requests 2: r1 and r2 in one session');
    isnt($p[2], $p[0], 'r3 in a new session');
    ok($t->wait_until(sub { sessions('req2') == 1 }, 5),
        'the first session ends with its 2 replies');
    is((sessions('req2'))[0]{received}, 4, 'it took 2 datagrams');
    sleep 0.5;
    is(scalar(() = sessions('req2')), 1,
        'the second waits for its second datagram');

    # A graceful stop ends at once the sessions that wait for no reply.
    my $t0 = time;
    $t->stop;
    cmp_ok(time - $t0, '<', 5, 'a graceful stop does not wait for them');
    is_deeply([ map { "$_->{status} $_->{received} $_->{termination}" }
            sessions('req2') ],
        [ '200 4 done', '200 2 shutdown' ],
        'the open session is logged as ended by the shutdown');
});

# ---- IPv6 and PROXY headers ------------------------------------------------

$t->section('an IPv6 client; PROXY headers in front of the first datagram'
      => sub {
    $t->start or return;
    my $c6 = IO::Socket::IP->new(PeerAddr => '::1', PeerPort => $port{v6},
        Proto => 'udp') or die "udp6: $!";
    like((ask($c6, 'six'))[0], qr/^b2:\d+:six$/, 'an IPv6 client is proxied');
    like((ask($c6, 'six2'))[0], qr/^b2:\d+:six2$/, 'in its session');

    my $c = client($port{pp1});
    my $cp = $c->sockport;
    my ($r) = ask($c, 'hello');
    like($r, qr/^b1:\d+:PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 $cp $port{pp1}\r\nhello$/,
        'v1: the header, then the first datagram');
    like((ask($c, 'again'))[0], qr/^b1:\d+:again$/,
        'the next datagram of the session has none');

    $c = client($port{pp2});
    ($r) = ask($c, 'two');
    my ($body) = ($r // '') =~ /^b1:\d+:(.*)$/s;
    $body //= '';
    is(substr($body, 0, 12), "\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A",
        'v2: the signature');
    is(unpack('H*', substr($body, 12, 2)), '2112',
        'PROXY command, IPv4 over UDP (DGRAM)');
    is(substr($body, -3), 'two', 'then the datagram');
    $t->stop;
    ok($t->wait_until(sub { sessions('v6') == 1 }, 5),
        'the IPv6 session is logged at the stop');
    is((sessions('v6'))[0]{received}, 7, 'with its bytes');
});

# ---- failures ---------------------------------------------------------------

$t->section('an ICMP refusal moves the session to the next backend' => sub {
    $t->start or return;
    my $off = $t->log_size;
    my $c = client($port{fail});
    my ($r) = ask($c, 'f1');
    like($r, qr/^b1:\d+:f1$/, 'the reply comes from the live backend');
    like($t->log_since($off),
        qr/\[error\] \d+#0: \*?\d* ?recv\(\) failed \(111: Connection refused\) while proxying udp datagrams, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$port{fail}, upstream: "127\.0\.0\.1:$closed"/,
        'the refusal is logged with the upstream');
    like($t->log_since($off),
        qr/\[warn\] .*upstream server temporarily disabled.*upstream: "127\.0\.0\.1:$closed"/,
        'and disables it (max_fails=1)');
    my $ok = 0;
    for my $i (2 .. 5) {
        my ($x) = ask($c, "f$i");
        $ok++ if ($x // '') =~ /^b1:\d+:f$i$/;
    }
    is($ok, 4, 'the next sessions are served');
    is(scalar(() = $t->log_since($off) =~ /Connection refused/g), 1,
        'without trying the disabled backend again');
    ok($t->wait_until(sub { sessions('fail') == 5 }, 5), '5 sessions logged');
    is((sessions('fail'))[0]{upstream}, "127.0.0.1:$b1",
        '$upstream_addr is the backend that answered');

    $c = client($port{dead});
    is_deeply([ ask($c, 'd1', 1, 1) ], [], 'no backend left: no reply');
    ok($t->wait_until(sub { sessions('dead') == 1 }, 5), 'logged');
    is((sessions('dead'))[0]{status}, '502', 'with 502');

    $off = $t->log_size;
    $c = client($port{silent});
    is_deeply([ ask($c, 'silent', 1, 2) ], [], 'a backend that never replies');
    ok($t->wait_until(sub { sessions('silent') == 1 }, 5),
        'the session ends after proxy_timeout');
    is((sessions('silent'))[0]{status}, '502', 'with 502: a reply was due');
    like($t->log_since($off),
        qr/\[error\] .*upstream timed out \(110: Connection timed out\) while proxying udp datagrams, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$port{silent}/,
        'upstream timed out is logged');
});

# ---- access control and caps ----------------------------------------------

$t->section('allow/deny, limit_conn and udp_sessions_max' => sub {
    $t->start or return;
    my $off = $t->log_size;
    my $before = backend_lines($b2log);
    my $c = client($port{deny});
    is_deeply([ ask($c, 'nope', 1, 1) ], [], 'deny: nothing comes back');
    like($t->log_since($off),
        qr/\[error\] .*access forbidden by rule, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$port{deny}/,
        'access forbidden by rule is logged');
    ok($t->wait_until(sub { sessions('deny') == 1 }, 5), 'the session is logged');
    is((sessions('deny'))[0]{status}, '403', 'with 403');
    is(scalar(() = backend_lines($b2log)), $before,
        'the backend never saw the datagram');
    $c = client($port{allow});
    like((ask($c, 'yes'))[0], qr/^b2:\d+:yes$/, 'allow: proxied');

    # limit_conn counts UDP sessions.
    $off = $t->log_size;
    my $l1 = client($port{limit});
    my $l2 = client($port{limit});
    like((ask($l1, 'l1'))[0], qr/^b2:\d+:l1$/, 'limit_conn 1: the first client');
    is_deeply([ ask($l2, 'l2', 1, 1) ], [],
        'a second session from the same address gets nothing');
    like($t->log_since($off), qr/\[error\] .*limiting connections by zone "udp"/,
        'limiting connections is logged');
    like((ask($l1, 'l1b'))[0], qr/^b2:\d+:l1b$/,
        'the first session still works');
    ok($t->wait_until(sub { grep { $_->{status} eq '503' } sessions('limit') }, 5),
        'the refused session is logged with 503');
    ok($t->wait_until(sub { sessions('limit') == 2 }, 10),
        'the first session ends idle');
    like((ask($l2, 'l2b'))[0], qr/^b2:\d+:l2b$/,
        'then the second address gets through');

    # udp_sessions_max 2
    $off = $t->log_size;
    my @c = map { client($port{cap}) } 1 .. 3;
    like((ask($c[0], 'k0'))[0], qr/^b2:\d+:k0$/, 'cap 2: first session');
    like((ask($c[1], 'k1'))[0], qr/^b2:\d+:k1$/, 'second session');
    is_deeply([ ask($c[2], 'k2', 1, 1) ], [], 'a third client gets nothing');
    my $p2 = $c[2]->sockport;
    like($t->log_since($off),
        qr/\[warn\] \d+#0: udp_sessions_max \(2\) reached on 127\.0\.0\.1:$port{cap}, dropping datagrams from new clients such as 127\.0\.0\.1:$p2/,
        'the cap is logged');
    like((ask($c[0], 'k0b'))[0], qr/^b2:\d+:k0b$/, 'open sessions still work');
    ok($t->wait_until(sub { sessions('cap') == 2 }, 10),
        'the sessions end idle');
    like((ask($c[2], 'k2b'))[0], qr/^b2:\d+:k2b$/,
        'then the third client is served');
    ok(!grep({ / k2$/ } backend_lines($b2log)),
        'the dropped datagram never reached the backend');
});

# ---- configuration errors ---------------------------------------------------

$t->section('-t errors' => sub {
    my $s = "events { }\nstream { server { listen 127.0.0.1:$b1 udp; "
      . "proxy_pass 127.0.0.1:$b2;";
    $t->conf_rejected("$s proxy_responses -1; } }\n", 5,
        qr/"proxy_responses" directive has invalid value "-1"/,
        'proxy_responses -1');
    $t->conf_rejected("$s proxy_requests many; } }\n", 5,
        qr/"proxy_requests" directive has invalid value "many"/,
        'proxy_requests many');
    $t->conf_rejected("$s udp_sessions_max 1; udp_sessions_max 2; } }\n", 5,
        qr/"udp_sessions_max" directive is duplicate/,
        'udp_sessions_max twice');
    $t->conf_rejected("$s proxy_responses 2147483647; } }\n", 5,
        qr/"proxy_responses" directive has invalid value "2147483647", it must be between 0 and 2147483646/,
        'proxy_responses too large');
    $t->conf_rejected("events { }\nhttp { proxy_requests 1; }\n", 5,
        qr/"proxy_requests" directive is not allowed here/,
        'proxy_requests in http');
    my $r = $t->run('-p', "$P/", '-c',
        $t->write_conf("$s proxy_responses 1; proxy_requests 3; "
              . "udp_sessions_max 100; } }\n", name => 'good.conf'), '-t');
    is($r->{code}, 0, 'a UDP proxy_pass server passes -t') or diag($r->{stderr});
});

stop_backends();
$t->done;
