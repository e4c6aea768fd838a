#!/usr/bin/perl
# HTTP health checks of a group that proxy_pass https:// names speak TLS
# with the location's proxy_ssl_* settings (wmproxy.conf(5), health_check
# in HTTP UPSTREAM MODULE): the TLS backends (children of this test)
# see each check's handshake with the SNI proxy_ssl_name gives and the
# check's GET inside it; both peers stay up while they answer; a backend
# that stops is taken down and comes back up; a certificate that does not
# verify against proxy_ssl_trusted_certificate takes the peers down (the
# verify error logged) and requests get 502; a group that a plain
# proxy_pass http:// names is checked in plain HTTP as before.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmHttpClient;
use WmCerts qw(ca cert have_tools);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

my $why = have_tools();
plan skip_all => $why if $why;

my $t = WmTest->new(timeout => 240);
my $P = $t->prefix;
my $C = "$P/certs";
mkdir $C or die "mkdir $C: $!";
ca($C, 'ca', 'health test CA');
ca($C, 'ca2', 'unrelated CA');
cert($C, 'backend', 'backend.test', by => 'ca');

my %child; # name => pid

# A backend NAME on PORT: TLS (unless plain => 1) with backend.crt; for
# each connection it logs "SNI HEX-OF-HEAD" to PREFIX/NAME.events and
# answers 200 with its name.
sub backend {
    my ($name, $port, %o) = @_;
    my $events = "$P/$name.events";
    my $ls = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port",
        Listen => 64, ReuseAddr => 1) or die "bind $port: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        alarm 0;
        $SIG{$_} = 'DEFAULT' for qw(ALRM TERM INT);
        $SIG{PIPE} = 'IGNORE';
        require IO::Socket::SSL;
        while (1) {
            my $rin = '';
            vec($rin, fileno($ls), 1) = 1;
            my $n = select(my $rout = $rin, undef, undef, 1);
            POSIX::_exit(0) if getppid() == 1;
            next unless $n && $n > 0;
            my $c = $ls->accept or next;
            my $sni = '-';
            unless ($o{plain}) {
                IO::Socket::SSL->start_SSL($c, SSL_server => 1,
                    SSL_cert_file => "$C/backend.crt",
                    SSL_key_file => "$C/backend.key", Timeout => 2)
                  or next;
                $sni = $c->get_servername // '-';
            }
            my $got = '';
            my $end = time + 1;
            while (index($got, "\r\n\r\n") < 0 && time < $end) {
                my $r = sysread($c, $got, 4096, length $got);
                last unless $r;
            }
            if (open my $fh, '>>', $events) {
                print $fh "$sni ", unpack('H*', $got), "\n";
                close $fh;
            }
            print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($name)
              . "\r\nConnection: close\r\n\r\n$name";
            close $c;
        }
    }
    close $ls;
    $child{$name} = $pid;
}

sub stop_backend {
    my $name = shift;
    my $pid = delete $child{$name} or return;
    kill 'TERM', $pid;
    waitpid($pid, 0);
}

# The checks NAME got: [ SNI, head ] of those with the probe's agent.
sub probes {
    my $name = shift;
    open my $fh, '<', "$P/$name.events" or return ();
    my @p;
    while (my $l = <$fh>) {
        chomp $l;
        my ($sni, $hex) = split / /, $l, 2;
        my $head = pack('H*', $hex // '');
        push @p, [ $sni, $head ] if $head =~ /User-Agent: wmproxy health check/;
    }
    return @p;
}

sub requests {
    my ($port, $n) = @_;
    my %count;
    for (1 .. $n) {
        my $c = WmHttpClient->new($port) or next;
        $c->send("GET /app HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n");
        my $r = $c->read_response(timeout => 10);
        $count{ $r->{error} ? "($r->{error})" : "$r->{status} $r->{body}" }++;
    }
    return \%count;
}

sub conf {
    my ($port, $pa, $pb, $scheme, $ssl) = @_;
    return <<"EOF";
worker_processes 1;
events { }
http {
    upstream backend.test {
        zone u 64k;
        server 127.0.0.1:$pa;
        server 127.0.0.1:$pb;
        health_check interval=300ms fails=1 passes=1 uri=/hc;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass $scheme://backend.test;
$ssl
        }
    }
}
EOF
}

# Backends a and b (plain => 1: without TLS) and wmproxy in front of them
# with conf(SCHEME, SSL): (port, port of a, port of b, log offset), or ()
# when wmproxy did not start.
sub start_with {
    my ($scheme, $ssl, %o) = @_;
    my ($port, $pa, $pb) = ($t->port, $t->port, $t->port);
    unlink "$P/a.events", "$P/b.events";
    backend('a', $pa, %o);
    backend('b', $pb, %o);
    $t->write_conf(conf($port, $pa, $pb, $scheme, $ssl));
    my $off = $t->log_size;
    $t->start or return ();
    return ($port, $pa, $pb, $off);
}

my $verify = <<"EOF";
            proxy_ssl_server_name on;
            proxy_ssl_name backend.test;
            proxy_ssl_verify on;
EOF

$t->section('checks over TLS: SNI, verification, a backend that stops' => sub {
    my ($port, $pa, $pb, $off) = start_with('https', $verify
          . "            proxy_ssl_trusted_certificate $C/ca.crt;") or return;
    ok($t->wait_until(sub { probes('a') >= 2 && probes('b') >= 2 }, 10),
        'both TLS backends get checks');
    my ($first) = probes('a');
    is($first->[0], 'backend.test', 'the handshake sends proxy_ssl_name as SNI');
    like($first->[1], qr{^GET /hc HTTP/1\.1\r\nHost: backend\.test\r\n},
        'and the check request comes inside it');
    is_deeply(requests($port, 10), { '200 a' => 5, '200 b' => 5 },
        'both peers up: requests alternate');
    unlike($t->log_since($off), qr/ is down after /, 'no peer went down');

    stop_backend('b');
    ok($t->wait_log(qr/\[warn\] \d+#0: peer 127\.0\.0\.1:$pb is down after 1 failed check, upstream: "backend\.test"$/m,
        from => $off), 'a stopped backend is taken down');
    is_deeply(requests($port, 6), { '200 a' => 6 }, 'requests go to a only');
    backend('b', $pb);
    ok($t->wait_log(qr/\[warn\] \d+#0: peer 127\.0\.0\.1:$pb is up after 1 passed check, upstream: "backend\.test"$/m,
        from => $off), 'and up again once it answers');
    $t->stop;
    stop_backend($_) for keys %child;
});

$t->section('a certificate that does not verify takes the peers down' => sub {
    my ($port, $pa, $pb, $off) = start_with('https', $verify
          . "            proxy_ssl_trusted_certificate $C/ca2.crt;") or return;
    ok($t->wait_log(qr/upstream SSL certificate verify error: \(\d+:[^)]+\) while checking health, upstream: "backend\.test"/,
        from => $off), 'the verify error is logged');
    ok($t->wait_log(qr/peer 127\.0\.0\.1:$pa is down after 1 failed check/,
        from => $off) && $t->wait_log(qr/peer 127\.0\.0\.1:$pb is down after 1 failed check/,
        from => $off), 'both peers are down');
    my $c = WmHttpClient->new($port);
    $c->send("GET /app HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n");
    is($c->read_response(timeout => 10)->{status}, 502, 'a request gets 502');
    $t->stop;
    stop_backend($_) for keys %child;
});

$t->section('a group of a plain proxy_pass is checked in plain HTTP' => sub {
    my ($port, $pa, $pb, $off) = start_with('http', '', plain => 1) or return;
    ok($t->wait_until(sub { probes('a') >= 2 && probes('b') >= 2 }, 10),
        'both plain backends get checks');
    is_deeply(requests($port, 4), { '200 a' => 2, '200 b' => 2 },
        'both up');
    unlike($t->log_since($off), qr/ is down after /, 'no peer went down');
    $t->stop;
    stop_backend($_) for keys %child;
});

END { stop_backend($_) for keys %child; }

$t->done;
