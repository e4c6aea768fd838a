#!/usr/bin/perl
# map and set in stream: SNI routing without terminating TLS (ssl_preread,
# a hostnames map of $ssl_preread_server_name onto two upstreams, each an
# openssl s_server with its own certificate, checked with openssl
# s_client -servername), a map of $remote_addr, a regex map with numbered
# and named captures, set in a server (in order, using its own earlier
# value, running before ssl_preread as nginx's preaccess phase does, not
# seen by another server), map_hash_* accepted, an unknown SNI going to
# the default, a map that uses its own value (logged), and -t errors.
# The expected strings of the return servers are what Debian's nginx 1.22
# answers for the same stream block.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(sleep);
use WmTest;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my ($p_sni, $p_ret, $p_other, $p_early, $p_loop) = map { $t->port } 1 .. 5;
my ($pa, $pb) = ($t->port, $t->port);
my $corpus = "$FindBin::Bin/fuzz/corpus/tls_hello";

sub hello {
    open my $f, '<:raw', "$corpus/$_[0]" or die "$_[0]: $!";
    local $/;
    return scalar <$f>;
}

$t->write_conf(<<"EOF");
worker_processes 1;
events { }
stream {
    map_hash_bucket_size 64;
    map_hash_max_size 2048;
    upstream a_up { server 127.0.0.1:$pa; }
    upstream b_up { server 127.0.0.1:$pb; }
    map \$ssl_preread_server_name \$backend {
        hostnames;
        a.example      a_up;
        *.a.example    a_up;
        default        b_up;
    }
    map \$remote_addr \$who {
        127.0.0.1  loopback;
        default    other;
    }
    map \$remote_addr \$loop { default "x\$loop"; }
    map \$remote_addr \$oct {
        ~^(?<first>\\d+)\\.(\\d+)\\.  "\$first-\$2";
    }
    server {
        listen 127.0.0.1:$p_sni;
        ssl_preread on;
        proxy_pass \$backend;
    }
    server {
        listen 127.0.0.1:$p_ret;
        set \$greet "hello \$who";
        set \$greet "\$greet!";
        return "\$greet oct=\$oct first=\$first 1=\$1\\n";
    }
    server {
        listen 127.0.0.1:$p_other;
        return "greet=[\$greet]\\n";
    }
    server {
        listen 127.0.0.1:$p_loop;
        return "loop=[\$loop]\\n";
    }
    server {
        listen 127.0.0.1:$p_early;
        ssl_preread on;
        set \$early "[\$ssl_preread_server_name]";
        return "early=\$early backend=\$backend\\n";
    }
}
EOF
$t->start(workers => 1, ports => [$p_sni, $p_ret, $p_other, $p_early, $p_loop])
  or BAIL_OUT('no start');

sub exchange {
    my ($port, $send) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Timeout => 5) or return "connect: $!";
    syswrite($s, $send) if length $send;
    my $got = '';
    my $sel = IO::Select->new($s);
    while ($sel->can_read(5)) {
        my $n = sysread($s, my $b, 65536);
        last unless $n;
        $got .= $b;
    }
    return $got;
}

is(exchange($p_ret, ''), "hello loopback! oct=127-0 first=127 1=127\n",
    'set in order with its own value, a map of $remote_addr, regex captures');
is(exchange($p_other, ''), "greet=[]\n",
    'a variable set in another server is empty here');
is(exchange($p_early, hello('sni-alpn-tls13')),
    "early=[] backend=b_up\n",
    'set runs before ssl_preread; the map reads it later');
is(exchange($p_early, hello('tls12-only')), "early=[] backend=b_up\n",
    'another name: the default');

# ---- SNI routing onto two TLS servers --------------------------------------

SKIP: {
    my @kids;
    for my $b ([$pa, 'a.test'], [$pb, 'b.test']) {
        my ($port, $cn) = @$b;
        system("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=$cn "
              . "-days 1 -keyout '$P/$cn.key' -out '$P/$cn.pem' "
              . ">/dev/null 2>&1") == 0
          or skip('openssl cannot make a certificate', 8);
        my $pid = fork // die;
        if (!$pid) {
            open STDIN,  '<', '/dev/null';
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', '/dev/null';
            exec 'openssl', 's_server', '-accept', "127.0.0.1:$port", '-cert',
              "$P/$cn.pem", '-key', "$P/$cn.key", '-www';
            exit 1;
        }
        push @kids, $pid;
    }
    # listening: a LISTEN (0A) line for each port in /proc/net/tcp
    my $up = 0;
    for (1 .. 200) {
        open my $fh, '<', '/proc/net/tcp' or last;
        my @l = <$fh>;
        $up = grep {
            my $hex = sprintf ':%04X ', $_;
            grep { index($_, $hex) > 0 && / 0A / } @l
        } ($pa, $pb);
        last if $up == 2;
        sleep 0.05;
    }
    is($up, 2, 'both openssl s_server listen');

    my $subject = sub {
        my $name = shift;
        my $out = `timeout 10 openssl s_client -connect 127.0.0.1:$p_sni -servername $name </dev/null 2>/dev/null`;
        return $out =~ /^subject=\s*CN\s*=\s*(\S+)/m ? $1 : "<no certificate>";
    };
    is($subject->('a.example'), 'a.test', 'SNI a.example: the a server');
    is($subject->('x.a.example'), 'a.test', 'SNI x.a.example: *.a.example');
    is($subject->('A.EXAMPLE'), 'a.test', 'SNI in capitals');
    is($subject->('b.example'), 'b.test', 'another SNI: the default');
    is($subject->('a.example.org'), 'b.test', 'a longer name is not a.example');
    my $out = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 10 openssl s_client -quiet -connect 127.0.0.1:$p_sni -servername a.example 2>/dev/null`;
    like($out, qr{^HTTP/1\.0 200 ok}m, 'a request through the routed TLS');
    for (@kids) { kill 'KILL', $_; waitpid($_, 0) }
}

is(exchange($p_ret, ''), "hello loopback! oct=127-0 first=127 1=127\n",
    'still serving');
# (the start-up probe of the loop server logs its cycle: left out)
is(join('', grep { /\[(?:error|crit|alert)\]/ && !/uses its own value/ }
            split /^/, $t->log_text), '', 'no other error logged');
my $off = $t->log_size;
is(exchange($p_loop, ''), "loop=[x]\n", 'a map of itself: its own use is empty');
ok($t->wait_log(qr/\[error\] \d+#\d+: the map of "\$loop" uses its own value, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$p_loop/,
        from => $off), 'the cycle is logged with its session');
$t->stop;

# ---- -t errors -------------------------------------------------------------

my @bad = (
    [ 'set of a built-in variable',
        "server { listen 127.0.0.1:1; set \$remote_addr x; return x; }",
        qr/:3: "set" directive cannot set the built-in "remote_addr" variable\n/ ],
    [ 'set of a map variable',
        "map \$remote_addr \$m { }\nserver { listen 127.0.0.1:1; set \$m x; return x; }",
        qr/:4: "set" directive cannot set the built-in "m" variable\n/ ],
    [ 'set without $', "server { listen 127.0.0.1:1; set m x; return x; }",
        qr/:3: "set" directive has invalid variable name "m"\n/ ],
    [ 'set in the stream block', "set \$a 1;",
        qr/:3: "set" directive is not allowed here\n/ ],
    [ 'map in a server', "server { listen 127.0.0.1:1; map \$remote_addr \$m { } return x; }",
        qr/:3: "map" directive is not allowed here\n/ ],
    [ 'a duplicate key', "map \$remote_addr \$m {\n a 1;\n a 2;\n}",
        qr/:5: "map" directive has duplicate key "a"\n/ ],
    [ 'a bad regex', "map \$remote_addr \$m {\n ~(( 1;\n}",
        qr/:4: "map" directive has an invalid regex "\(\(": missing closing parenthesis at 2\n/ ],
    [ 'an unknown variable', "map \$nosuch \$m { }",
        qr/:3: "map" directive uses unknown "nosuch" variable\n/ ],
    [ 'a bad map_hash_max_size', "map_hash_max_size -1;",
        qr/:3: "map_hash_max_size" directive has invalid value "-1"\n/ ],
);
for my $b (@bad) {
    my ($name, $stream, $re) = @$b;
    my $f = $t->write_conf(<<"EOF", raw => 1, name => 'bad.conf');
events { }
stream {
$stream
}
EOF
    my $r = $t->run('-p', "$P/", '-c', $f, '-t');
    is($r->{code}, 1, "-t $name: exit 1");
    like($r->{stderr}, qr/^\Q$f\E$re/m, "-t $name: file:line and message")
      or diag($r->{stderr});
}

$t->done;
