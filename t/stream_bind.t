#!/usr/bin/perl
# proxy_bind: the upstream sees connections from the bound address (and
# port), `off` in a server cancels the stream block's, IPv6 works, an
# address the machine does not have is a bind() error for that session
# (500, logged with its context) while the server goes on serving, and
# `transparent`, variables and bad addresses are -t errors.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::INET;
use IO::Socket::IP;
use Test::More;
use WmTest;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my %port = map { $_ => $t->port } qw(two three off v6 none);
my ($pb, $pfixed) = ($t->port, $t->port);

my $be = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$pb", Listen => 16,
    ReuseAddr => 1) or die "listen $pb: $!";
my $be6 = IO::Socket::IP->new(LocalHost => '::1', LocalPort => $pb,
    Listen => 16, ReuseAddr => 1);

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
stream {
    log_format t '\$server_port \$status \$termination';
    access_log logs/stream.log t;
    proxy_bind 127.0.0.2;
    server { listen 127.0.0.1:$port{two}; proxy_pass 127.0.0.1:$pb; }
    server {
        listen 127.0.0.1:$port{three};
        proxy_pass 127.0.0.1:$pb;
        proxy_bind 127.0.0.3:$pfixed;
    }
    server {
        listen 127.0.0.1:$port{off};
        proxy_pass 127.0.0.1:$pb;
        proxy_bind off;
    }
    server {
        listen 127.0.0.1:$port{v6};
        proxy_pass [::1]:$pb;
        proxy_bind [::1];
    }
    server {
        listen 127.0.0.1:$port{none};
        proxy_pass 127.0.0.1:$pb;
        proxy_bind 192.0.2.1;
    }
}
EOF
$t->start(workers => 1) or BAIL_OUT('no start');

# One session through $port: the backend ($l) answers with the address
# the connection came from; what the client reads.
sub source_of {
    my ($port, $l) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Timeout => 5) or return "connect: $!";
    my @r = IO::Select->new($l)->can_read(5) or return 'no connection';
    my $u = $l->accept or return "accept: $!";
    print $u $u->peerhost . ' ' . $u->peerport;
    close $u;
    my $got = '';
    my $sel = IO::Select->new($c);
    while ($sel->can_read(5)) {
        last unless sysread($c, $got, 100, length $got);
    }
    close $c;
    return $got;
}

like(source_of($port{two}, $be), qr/^127\.0\.0\.2 \d+$/,
    'proxy_bind 127.0.0.2 (from the stream block): the upstream sees it');
is(source_of($port{three}, $be), "127.0.0.3 $pfixed",
    'proxy_bind 127.0.0.3:port: the address and the port');
like(source_of($port{off}, $be), qr/^127\.0\.0\.1 \d+$/,
    'proxy_bind off in a server: the usual source address');
SKIP: {
    skip 'no IPv6 loopback', 1 unless $be6;
    like(source_of($port{v6}, $be6), qr/^::1 \d+$/,
        'proxy_bind [::1] towards an IPv6 upstream');
}

# An address this machine does not have: nothing is sent anywhere.
my $off = $t->log_size;
is($t->talk($port{none}, 'x'), '', 'bind() fails: the client is closed');
ok($t->wait_log(qr/\[crit\] \d+#0: bind\(192\.0\.2\.1\) failed \(99: Cannot assign requested address\) while connecting to upstream, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$port{none}, upstream: "127\.0\.0\.1:$pb"$/m,
        from => $off),
    'bind() fails: logged with the session\'s context');
ok(!IO::Select->new($be)->can_read(0.5),
    'bind() fails: no connection reaches the upstream');
ok($t->wait_until(sub {
            $t->log_text('logs/stream.log') =~ /^$port{none} 500 error$/m
        }, 10),
    'bind() fails: status 500 in the access log');
like(source_of($port{two}, $be), qr/^127\.0\.0\.2 \d+$/, 'still serving');

for my $b (
    [ 'proxy_bind 127.0.0.2 transparent;',
      qr/"proxy_bind" directive with "transparent" is not supported by wmproxy/ ],
    [ 'proxy_bind $remote_addr;',
      qr/"proxy_bind" directive with variables is not supported by wmproxy/ ],
    [ 'proxy_bind 127.0.0.2 loose;',
      qr/"proxy_bind" directive has invalid parameter "loose"/ ],
    [ 'proxy_bind localhost;',
      qr/"proxy_bind" directive has invalid address "localhost"/ ],
    [ 'proxy_bind 127.0.0.2:99999;',
      qr/"proxy_bind" directive has invalid port in "127\.0\.0\.2:99999"/ ],
    [ 'proxy_bind [::1;',
      qr/"proxy_bind" directive has invalid address "\[::1"/ ],
    [ "proxy_bind off;\n        proxy_bind 127.0.0.2;",
      qr/"proxy_bind" directive is duplicate/ ],
  )
{
    my $line = $b->[0] =~ /\n/ ? 9 : 8;
    $t->conf_rejected(<<"EOF", $line, $b->[1], $b->[0]);
events { }
stream {
    server {
        listen 127.0.0.1:$port{two};
        $b->[0]
        proxy_pass 127.0.0.1:$pb;
    }
}
EOF
}

$t->done;
