#!/usr/bin/perl
# `server name:port resolve` with `resolver` (wmproxy.conf(5)): a name
# that does not resolve at load starts without addresses, a tiny DNS
# server inside the test (a child process answering UDP on 127.0.0.1 with
# hand-built packets, told what to answer through a file) gives it
# 127.0.0.2, then 127.0.0.3; new connections move within valid=1s, in both
# workers, and one process resolves. NXDOMAIN and a timeout keep the old
# address with an error line. One HTTP proxy case, and the -t errors.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

my $t = WmTest->new(timeout => 240);
my $P = $t->prefix;

# ---- the DNS server ----------------------------------------------------------
#
# $P/dns.txt says what to answer: "ok IP[,IP] TTL", "nxdomain" or "drop".
# AAAA queries get an empty NOERROR answer when "ok". Each query is
# appended to $P/dns.log as "TYPE NAME".

sub dns_set {
    my $what = shift;
    open(my $f, '>', "$P/dns.txt.new") or die "dns.txt: $!";
    print $f "$what\n";
    close $f;
    rename("$P/dns.txt.new", "$P/dns.txt") or die "rename: $!";
}

sub dns_reply {
    my ($q) = @_;
    return undef if length $q < 12;
    my ($id, $flags, $qd) = unpack('n n n', $q);
    return undef if $qd != 1;
    my $off = 12;
    my @labels;
    while ($off < length $q) {
        my $n = ord substr($q, $off, 1);
        $off++;
        last if $n == 0;
        push @labels, substr($q, $off, $n);
        $off += $n;
    }
    my $question = substr($q, 12, $off + 4 - 12);
    my ($qtype) = unpack('n', substr($q, $off, 2));
    my $name = lc join('.', @labels);
    if (open(my $lf, '>>', "$P/dns.log")) {
        print $lf "$qtype $name\n";
        close $lf;
    }
    open(my $f, '<', "$P/dns.txt") or return undef;
    my $mode = <$f> // '';
    chomp $mode;
    return undef if $mode eq 'drop';
    my ($rcode, @an) = (0);
    if ($mode eq 'nxdomain' || $name ne 'backend.test') {
        $rcode = 3;
    } elsif ($mode =~ /^ok (\S+) (\d+)$/) {
        my ($ips, $ttl) = ($1, $2);
        if ($qtype == 1) {
            for my $ip (split /,/, $ips) {
                push @an, pack('n n n N n', 0xc00c, 1, 1, $ttl, 4)
                  . pack('C4', split /\./, $ip);
            }
        }
    }
    my $hdr = pack('n n n n n n', $id, 0x8180 | $rcode, 1, scalar @an, 0, 0);
    return $hdr . $question . join('', @an);
}

my $dns_port = $t->udp_port;
my $dns = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$dns_port",
    Proto => 'udp') or die "dns socket: $!";
dns_set('nxdomain');
my $dns_pid = fork() // die "fork: $!";
if ($dns_pid == 0) {
    # The server: answers until the parent kills it.
    while (1) {
        my $from = $dns->recv(my $q, 512, 0);
        next unless defined $from;
        my $r = dns_reply($q);
        $dns->send($r, 0, $from) if defined $r;
    }
    POSIX::_exit(0);
}
close $dns;

END {
    local $?;    # the exit status of the test, not of the DNS server
    if ($dns_pid) { kill('TERM', $dns_pid); waitpid($dns_pid, 0); }
}

sub dns_queries {
    open(my $f, '<', "$P/dns.log") or return 0;
    my @l = grep { /^1 backend\.test$/ } <$f>;
    return scalar @l;
}

sub aaaa_queries {
    open(my $f, '<', "$P/dns.log") or return 0;
    my @l = grep { /^28 backend\.test$/ } <$f>;
    return scalar @l;
}

# ---- backends on 127.0.0.2 and 127.0.0.3, the same port ----------------------

my $bport = $t->port;
my %l = map {
    $_ => IO::Socket::INET->new(LocalAddr => "$_:$bport", Listen => 128,
        ReuseAddr => 1) || die "listen $_:$bport: $!"
} qw(127.0.0.2 127.0.0.3);

sub recv_all {
    my ($s, $timeout) = @_;
    my $buf = '';
    my $end = time + ($timeout // 5);
    while (time < $end) {
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        last unless select($rin, undef, undef, $end - time);
        my $r = sysread($s, $buf, 4096, length $buf);
        last unless $r;
    }
    return $buf;
}

# One connection through $port: the backend address that served it (its
# reply reached the client), or "none: <what the client read>".
sub one {
    my ($port, $send) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5)
      or return "none: connect: $!";
    print $c $send if defined $send;
    my %by_fd = map { fileno($l{$_}) => $_ } keys %l;
    my @ready = IO::Select->new(values %l)->can_read(5);
    unless (@ready) {
        my $r = recv_all($c, 2);
        return "none: $r";
    }
    my $name = $by_fd{ fileno($ready[0]) };
    my $u = $ready[0]->accept or return "none: accept";
    if (defined $send) {
        my $req = '';
        while ($req !~ /\r\n\r\n/) {
            sysread($u, $req, 4096, length $req) or last;
        }
        print $u "HTTP/1.0 200 OK\r\nContent-Length: "
          . length($name) . "\r\n\r\n$name";
    } else {
        print $u $name;
    }
    close $u;
    my $r = recv_all($c);
    close $c;
    return $r eq $name || $r =~ /\r\n\r\n\Q$name\E$/ ? $name : "none: $r";
}

sub served {
    my ($port, $n, $send) = @_;
    my %c;
    $c{ one($port, $send) }++ for 1 .. $n;
    return join ' ', map {"$_=$c{$_}"} sort keys %c;
}

sub count_lines {
    my ($re, $off) = @_;
    return scalar grep { $_ =~ $re } split /\n/, $t->log_since($off);
}

sub session_pids {
    my $off = shift;
    my %pid = map { $_ => 1 }
      $t->log_since($off) =~ /\[debug\] (\d+)#0: stream session \d+ accepted/g;
    return scalar keys %pid;
}

# ---- stream ------------------------------------------------------------------

$t->section('stream: unresolved at load, then 127.0.0.2, then 127.0.0.3' => sub {
    my $port = $t->port;
    $t->write_conf(<<"EOF");
worker_processes 2;
events { }
stream {
    resolver 127.0.0.1:$dns_port valid=1s ipv6=on;
    resolver_timeout 1s;
    upstream u {
        zone u 64k;
        server backend.test:$bport resolve;
    }
    server { listen 127.0.0.1:$port reuseport; proxy_pass u; }
}
EOF
    my $off = $t->log_size;
    $t->start(workers => 2) or return;
    ok($t->wait_log(qr/\[error\] \d+#0: upstream "u": could not resolve "backend\.test" \(name does not exist\), keeping ""$/,
        from => $off), 'NXDOMAIN at start: error logged, no addresses');
    like(one($port), qr/^none: $/, 'no address yet: the connection is closed');
    ok(count_lines(qr/\[error\] .*no live upstreams while connecting to upstream/, $off) >= 1,
        'no address: "no live upstreams"');

    $off = $t->log_size;
    dns_set('ok 127.0.0.2 300');
    ok($t->wait_log(qr/\[notice\] \d+#0: upstream "u": "backend\.test" resolves to "127\.0\.0\.2:$bport"$/,
        from => $off, timeout => 15), 'the name resolves to 127.0.0.2');
    is(served($port, 10), '127.0.0.2=10', '10 connections to 127.0.0.2');
    ok(aaaa_queries() >= 1, 'ipv6=on: AAAA queries too');

    # valid=1s overrides the TTL of 300 s.
    $off = $t->log_size;
    my $q = dns_queries();
    dns_set('ok 127.0.0.3 300');
    ok($t->wait_log(qr/resolves to "127\.0\.0\.3:$bport"$/, from => $off,
        timeout => 15), 'within valid=1s the name resolves to 127.0.0.3');
    is(count_lines(qr/resolves to "127\.0\.0\.3:$bport"$/, $off), 1,
        'one process resolved it, once');
    # Batches until both workers accepted some (reuseport: the kernel
    # spreads connections over the workers' sockets by their ports).
    my ($all, $batches) = ('', 0);
    while ($batches < 6 && ($batches < 2 || session_pids($off) < 2)) {
        $all .= served($port, 10) . ' ';
        $batches++;
    }
    is($all, '127.0.0.3=10 ' x $batches,
        "$batches batches of 10 new connections all go to 127.0.0.3");
    is(session_pids($off), 2, 'both workers served them, the same address');
    sleep 2.5;
    my $n = dns_queries() - $q;
    ok($n >= 2 && $n <= 8, "A queries every valid=1s, not more ($n)");

    # NXDOMAIN: the old address stays.
    $off = $t->log_size;
    dns_set('nxdomain');
    ok($t->wait_log(qr/\[error\] \d+#0: upstream "u": could not resolve "backend\.test" \(name does not exist\), keeping "127\.0\.0\.3:$bport"$/,
        from => $off, timeout => 15), 'NXDOMAIN: error logged, address kept');
    is(served($port, 5), '127.0.0.3=5', 'NXDOMAIN: still 127.0.0.3');

    # A name server that does not answer: resolver_timeout 1s.
    $off = $t->log_size;
    dns_set('drop');
    ok($t->wait_log(qr/\[error\] \d+#0: upstream "u": could not resolve "backend\.test" \(request timed out\), keeping "127\.0\.0\.3:$bport"$/,
        from => $off, timeout => 15), 'timeout: error logged, address kept');
    is(served($port, 5), '127.0.0.3=5', 'timeout: still 127.0.0.3');

    # Two addresses: both serve.
    $off = $t->log_size;
    dns_set('ok 127.0.0.2,127.0.0.3 300');
    ok($t->wait_log(qr/resolves to "127\.0\.0\.3:$bport 127\.0\.0\.2:$bport"$/,
        from => $off, timeout => 15), 'two addresses: the kept one first');
    is(served($port, 10), '127.0.0.2=5 127.0.0.3=5',
        'two addresses: round robin over both');
    $t->stop;
});

# ---- http ----------------------------------------------------------------------

$t->section('http: proxy_pass to an upstream with resolve' => sub {
    my $port = $t->port;
    my $aaaa = aaaa_queries();
    dns_set('ok 127.0.0.2 1');
    $t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    resolver 127.0.0.1:$dns_port ipv6=off;
    upstream u {
        zone hu 64k;
        server backend.test:$bport resolve;
    }
    server {
        listen 127.0.0.1:$port;
        location / { proxy_pass http://u; }
    }
}
EOF
    my $off = $t->log_size;
    $t->start(workers => 1) or return;
    ok($t->wait_log(qr/resolves to "127\.0\.0\.2:$bport"$/, from => $off,
        timeout => 15), 'http: resolves to 127.0.0.2');
    my $req = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
    is(served($port, 3, $req), '127.0.0.2=3', 'http: 127.0.0.2 serves');
    $off = $t->log_size;
    dns_set('ok 127.0.0.3 1');
    ok($t->wait_log(qr/resolves to "127\.0\.0\.3:$bport"$/, from => $off,
        timeout => 15), 'http: the TTL of 1s brings 127.0.0.3');
    is(served($port, 3, $req), '127.0.0.3=3', 'http: 127.0.0.3 serves');
    is(aaaa_queries(), $aaaa, 'ipv6=off: no AAAA query');
    $t->stop;
});

# ---- -t ------------------------------------------------------------------------

$t->section('-t errors' => sub {
    $t->conf_rejected(<<"EOF", 6, qr/resolving names at run time requires upstream "u" to be in shared memory \("zone"\)/, 'resolve without zone');
events { }
stream { resolver 127.0.0.1;
    upstream u { server backend.test:80 resolve; }
    server { listen 127.0.0.1:1; proxy_pass u; }
}
EOF
    $t->conf_rejected(<<"EOF", 7, qr/host not found in upstream "backend\.test:80"/, 'unresolvable name without resolve');
events { }
stream {
    upstream u { zone u;
    server backend.test:80; }
    server { listen 127.0.0.1:1; proxy_pass u; }
}
EOF
    $t->conf_rejected(<<"EOF", 6, qr/"resolver" directive has invalid parameter "valid=never"/, 'bad valid=');
events { }
stream {
    resolver 127.0.0.1 valid=never;
}
EOF
    $t->conf_rejected(<<"EOF", 6, qr/"resolver_timeout" directive has invalid value "soon"/, 'bad resolver_timeout');
events { }
http {
    resolver_timeout soon;
}
EOF
    $t->conf_rejected(<<"EOF", 6, qr/invalid parameter "resolve"\n/, 'resolve on a unix socket');
events { }
stream {
    upstream u { zone u; server unix:/tmp/x.sock resolve; }
}
EOF
    # No resolver anywhere: reported once the block is known.
    my $conf = $t->write_conf(<<"EOF", name => 'nores.conf');
events { }
http {
    upstream u { zone u; server backend.test:80 resolve; }
    server { listen 127.0.0.1:1; location / { proxy_pass http://u; } }
}
EOF
    my $r = $t->run('-p', "$P/", '-c', $conf, '-t');
    isnt($r->{code}, 0, '-t fails: no resolver');
    like($r->{stderr}, qr/no resolver defined to resolve the servers of upstream "u" in \Q$conf\E:6\n/,
        '-t says why: no resolver') or diag($r->{stderr});

    # A resolver in the upstream block, and one in a server block, pass.
    $conf = $t->write_conf(<<"EOF", name => 'good.conf');
events { }
stream {
    upstream u { zone u; resolver 127.0.0.1 valid=30s ipv6=off;
        resolver_timeout 5s; server backend.test:80 resolve; }
    server { listen 127.0.0.1:1; resolver 127.0.0.1; proxy_pass u; }
}
EOF
    $r = $t->run('-p', "$P/", '-c', $conf, '-t');
    is($r->{code}, 0, '-t passes: resolver in the upstream block')
      or diag($r->{stderr});
});

$t->done;
