#!/usr/bin/perl
# proxy_pass with variables in a stream server: SNI routing without
# terminating TLS (proxy_pass $ssl_preread_server_name onto upstream
# blocks named after the server names), a numeric address built from a
# variable ($proxy_protocol_addr:port), and the refusals: a name that is
# neither an upstream nor a numeric address (no resolver) and an empty
# value, each logged, with the server still serving.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use WmTest;

my $t = WmTest->new(timeout => 60);
my ($p_sni, $p_pp, $p_empty) = ($t->port, $t->port, $t->port);
my ($ua, $ub, $uc) = ($t->port, $t->port, $t->port);
my $corpus = "$FindBin::Bin/fuzz/corpus/tls_hello";

sub hello {
    open my $f, '<:raw', "$corpus/$_[0]" or die "$_[0]: $!";
    local $/;
    return scalar <$f>;
}

# Backends that name themselves once they got a first read, then close.
my @kids;
END { local $?; for (@kids) { kill 'KILL', $_; waitpid($_, 0) } }
for my $b ([$ua, 'A'], [$ub, 'B'], [$uc, 'C']) {
    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$b->[0]",
        Listen => 16, ReuseAddr => 1) or die "listen: $!";
    my $pid = fork // die;
    if (!$pid) {
        while (my $c = $l->accept) {
            sysread($c, my $buf, 65536);
            syswrite($c, "$b->[1]\n");
            close $c;
        }
        POSIX::_exit(0);
    }
    close $l;
    push @kids, $pid;
}

$t->write_conf(<<"EOF");
events { }
stream {
    upstream www.example.com { server 127.0.0.1:$ua; }
    upstream api.example.org { server 127.0.0.1:$ub; }
    server {
        listen 127.0.0.1:$p_sni;
        ssl_preread on;
        proxy_pass \$ssl_preread_server_name;
    }
    server {
        listen 127.0.0.1:$p_pp proxy_protocol;
        proxy_pass \$proxy_protocol_addr:$uc;
    }
    server {
        listen 127.0.0.1:$p_empty;
        proxy_pass \$proxy_protocol_addr;
    }
}
EOF
$t->start(workers => 1, ports => [$p_sni, $p_empty]) or BAIL_OUT('no start');

sub exchange {
    my ($port, $send) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Timeout => 5) or return undef;
    syswrite($s, $send);
    my $got = '';
    my $sel = IO::Select->new($s);
    while ($sel->can_read(5)) {
        my $n = sysread($s, my $b, 65536);
        last unless $n;
        $got .= $b;
    }
    return $got;
}

is(exchange($p_sni, hello('sni-alpn-tls13')), "A\n",
    'SNI www.example.com goes to the upstream of that name');
is(exchange($p_sni, hello('tls12-only')), "B\n",
    'SNI api.example.org goes to the other');
is(exchange($p_pp, "PROXY TCP4 127.0.0.1 127.0.0.1 5000 80\r\nhi"), "C\n",
    'a numeric address made of a variable and a port');

my $off = $t->log_size;
is(exchange($p_sni, hello('tls13-only')), '',
    'SNI a.b: no such upstream and not numeric: closed');
ok($t->wait_log(qr/\[error\] .*no resolver defined to resolve "a\.b"/,
        from => $off), 'the unresolvable name is logged');
$off = $t->log_size;
is(exchange($p_empty, 'x'), '', 'an empty value: closed');
ok($t->wait_log(qr/\[error\] .*proxy_pass is empty/, from => $off),
    'the empty value is logged');
is(exchange($p_sni, hello('sni-alpn-tls13')), "A\n", 'still serving');

$t->done;
