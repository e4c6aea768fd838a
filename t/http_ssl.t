#!/usr/bin/perl
# HTTPS as an nginx user sees it: the -t errors of a bad certificate setup,
# a GET with its exact headers and body, SNI choosing among three servers
# (unknown and missing names get the default server), RSA and ECDSA
# certificates on one server, ssl_protocols and ssl_ciphers, session
# resumption with tickets across two workers and with a session cache,
# client certificates (on, optional, optional_no_ca, and a certificate of
# one server's CA used against another server), the $ssl_* variables, a
# big file, keep-alive and pipelining, the directory redirect, plain HTTP
# and broken handshakes on a TLS port, a handshake that fills the socket
# buffer, and a reload that changes a certificate. Keys and certificates
# are made here with the openssl command; the clients are openssl s_client,
# curl and (when installed) IO::Socket::SSL.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Socket qw(SOL_SOCKET SO_RCVBUF SO_LINGER);
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;

for my $tool ('openssl', 'curl') {
    next if grep { -x "$_/$tool" } split /:/, $ENV{PATH} // '';
    plan skip_all => "$tool is not installed";
}

my $t = WmTest->new(timeout => 300);
my $P = $t->prefix;
my $D = qr{\d{4}/\d\d/\d\d \d\d:\d\d:\d\d};
my $HAVE_IO_SSL = eval { require IO::Socket::SSL; 1 };

my $srcdir = $ENV{WM_SRCDIR} // "$FindBin::Bin/..";
my ($version) = do {
    open my $fh, '<', "$srcdir/configure.ac" or die "configure.ac: $!";
    local $/;
    <$fh> =~ /AC_INIT\(\[wmproxy\],\s*\[([^\]]+)\]/;
};
die "no version in configure.ac" unless $version;

# ---- running clients ----------------------------------------------------------

mkdir "$P/cmd", 0755 or die "mkdir: $!";
my $ncmd = 0;
my %mine;    # pid => 1 for the client processes this test started

# Runs a program with a time bound and returns {code, out, err, timedout}.
# The process is ours: it is killed by its pid when it overstays.
sub cmd {
    my $o = ref $_[0] eq 'HASH' ? shift : {};
    my @argv = @_;
    my $n = ++$ncmd;
    my ($in, $out, $err) = map { "$P/cmd/$n.$_" } qw(in out err);
    open my $fh, '>', $in or die "$in: $!";
    print $fh $o->{stdin} // '';
    close $fh;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        alarm 0;
        open STDIN,  '<', $in  or POSIX::_exit(126);
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>', $err or POSIX::_exit(126);
        { no warnings 'exec'; exec { $argv[0] } @argv; }
        POSIX::_exit(127);
    }
    $mine{$pid} = 1;
    my $end = time + ($o->{timeout} // 15);
    my ($st, $timedout);
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) { $st = $?; last }
        if (time > $end) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            $st = $?;
            $timedout = 1;
            last;
        }
        sleep 0.02;
    }
    delete $mine{$pid};
    my %r = (code => $st >> 8, timedout => $timedout);
    for my $k ('out', 'err') {
        open my $f, '<', "$P/cmd/$n.$k" or next;
        local $/;
        $r{$k} = <$f> // '';
    }
    return \%r;
}

END { kill 'KILL', $_ for keys %mine }

sub ossl {
    my $r = cmd({ timeout => 60 }, 'openssl', @_);
    die "openssl @_: $r->{err}" if $r->{code};
    return $r;
}

# openssl s_client against 127.0.0.1:PORT. sni => NAME (none: no SNI),
# args => [...], send => TEXT (then it waits for the server to close).
# Returns cmd's result and: cn (of the leaf), state (New/Reused), proto,
# cipher, ok (a handshake was made), pem (the leaf), chain (how many
# certificates the server sent).
sub sclient {
    my ($port, %o) = @_;
    my @a = ('openssl', 's_client', '-connect', "127.0.0.1:$port");
    push @a, defined $o{sni} ? ('-servername', $o{sni}) : '-noservername';
    push @a, @{ $o{args} // [] };
    push @a, '-ign_eof' if defined $o{send};
    my $r = cmd({ stdin => $o{send} // '', timeout => $o{timeout} // 10 },
        @a);
    ($r->{cn}) = $r->{out} =~ /^subject=.*?CN ?= ?([^,\n]+)/m;
    @{$r}{qw(state proto cipher)} =
      $r->{out} =~ /^(New|Reused), (\S+), Cipher is (\S+)/m;
    $r->{ok} = defined $r->{cipher} && $r->{cipher} ne '(NONE)' ? 1 : 0;
    ($r->{pem}) = $r->{out}
      =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----)/s;
    $r->{chain} = () = $r->{out} =~ /^ *\d+ s:/mg;
    $r->{$_} //= '' for qw(cn state proto cipher pem);
    return $r;
}

sub get_req {
    my ($host, $path) = @_;
    return "GET $path HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n";
}

# curl with the test CA, one URL; returns {code, err, line, status, h, body}.
sub curl {
    my ($url, @args) = @_;
    my $n = ++$ncmd;
    my ($hf, $bf) = ("$P/cmd/$n.head", "$P/cmd/$n.body");
    my $r = cmd({ timeout => 20 }, 'curl', '-sS', '--http1.1',
        '--max-time', 15, '--cacert', "$P/certs/ca.crt", '-D', $hf,
        '-o', $bf, @args, $url);
    for ([ head => $hf ], [ body => $bf ]) {
        open my $f, '<', $_->[1] or next;
        binmode $f;
        local $/;
        $r->{ $_->[0] } = <$f> // '';
    }
    $r->{head} //= '';
    my ($line, @lines) = split /\r\n/, $r->{head};
    $r->{line} = $line;
    ($r->{status}) = ($line // '') =~ m{^HTTP/1\.\d (\d{3})};
    $r->{status} //= 0;
    $r->{h} = {};
    for (@lines) {
        my ($k, $v) = /^([^:]+):[ \t]*(.*?)[ \t]*$/ or next;
        $r->{h}{ lc $k } = $v;
    }
    return $r;
}

sub resolve { map { ('--resolve', "$_->[0]:$_->[1]:127.0.0.1") } @_ }

# The URL of NAME on PORT, resolved to loopback.
sub url {
    my ($name, $port, $path, @args) = @_;
    return curl("https://$name:$port$path", resolve([ $name, $port ]), @args);
}

sub page {
    my ($line) = @_;
    return "<html>\r\n<head><title>$line</title></head>\r\n<body>\r\n"
      . "<center><h1>$line</h1></center>\r\n<hr><center>wmproxy/$version"
      . "</center>\r\n</body>\r\n</html>\r\n";
}

sub ticks {
    my $sum = 0;
    for my $pid (@_) {
        my $st = do {
            open my $f, '<', "/proc/$pid/stat" or next;
            local $/;
            <$f>;
        };
        my @f = split ' ', ($st =~ /\) (.*)/s)[0];
        $sum += $f[11] + $f[12];    # utime + stime
    }
    return $sum;
}

# A ClientHello as openssl s_client sends it, caught on a socket of ours.
sub client_hello {
    my ($sni) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Listen => 1) or die "listen: $!";
    my $lp  = $l->sockport;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        alarm 0;
        open STDIN,  '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        { no warnings 'exec';
          exec 'openssl', 's_client', '-connect', "127.0.0.1:$lp",
            '-servername', $sni; }
        POSIX::_exit(127);
    }
    $mine{$pid} = 1;
    my $ch = '';
    my $a  = $l->accept;
    if ($a) {
        my $rin = '';
        vec($rin, fileno $a, 1) = 1;
        while (select(my $r = $rin, undef, undef, 5)) {
            sysread($a, $ch, 65536, length $ch) or last;
            last if length $ch >= 5
              && length $ch >= 5 + unpack('n', substr($ch, 3, 2));
        }
        close $a;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    delete $mine{$pid};
    die "no ClientHello caught" unless length $ch > 100;
    return $ch;
}

# Connects a raw TCP socket (rcvbuf => N sets SO_RCVBUF first).
sub raw_connect {
    my ($port, %o) = @_;
    my $s = IO::Socket::INET->new(Proto => 'tcp') or die "socket: $!";
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, pack('i', $o{rcvbuf}))
      if $o{rcvbuf};
    connect($s, Socket::pack_sockaddr_in($port, Socket::inet_aton(
        '127.0.0.1'))) or return;
    binmode $s;
    return $s;
}

# Reads until EOF or the deadline: (bytes, eof?).
sub drain {
    my ($s, $timeout) = @_;
    my $end = time + $timeout;
    my ($buf, $eof) = ('', 0);
    my $rin = '';
    vec($rin, fileno $s, 1) = 1;
    while ((my $left = $end - time) > 0) {
        select(my $r = $rin, undef, undef, $left) or next;
        my $n = sysread($s, $buf, 65536, length $buf);
        if (!$n) { $eof = 1; last }
    }
    return ($buf, $eof);
}

# ---- keys and certificates -----------------------------------------------------

my $C = "$P/certs";
mkdir $C, 0755 or die "mkdir $C: $!";
my $serial = 1000;

sub make_ca {
    my ($name, $cn) = @_;
    ossl('req', '-x509', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout',
        "$C/$name.key", '-out', "$C/$name.crt", '-days', 3, '-subj',
        "/CN=$cn", '-addext', 'basicConstraints=critical,CA:TRUE', '-addext',
        'keyUsage=critical,keyCertSign,cRLSign');
}

# A leaf signed by CA: kind rsa or ec, use server or client.
sub make_leaf {
    my (%o) = @_;
    my ($name, $cn) = @o{qw(name cn)};
    my @key = ($o{kind} // 'rsa') eq 'ec'
      ? ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256')
      : ('-newkey', 'rsa:2048');
    ossl('req', '-new', @key, '-nodes', '-keyout', "$C/$name.key", '-out',
        "$C/$name.csr", '-subj', "/CN=$cn");
    my $ext = "$C/$name.ext";
    open my $fh, '>', $ext or die "$ext: $!";
    print $fh ($o{use} // 'server') eq 'client'
      ? "extendedKeyUsage=clientAuth\n"
      : "subjectAltName=" . join(',', map { "DNS:$_" } $cn,
        @{ $o{alt} // [] }) . "\nextendedKeyUsage=serverAuth\n";
    close $fh;
    my $ca = $o{ca} // 'ca';
    ossl('x509', '-req', '-in', "$C/$name.csr", '-CA', "$C/$ca.crt",
        '-CAkey', "$C/$ca.key", '-set_serial', $serial++, '-days', 3,
        '-out', "$C/$name.crt", '-extfile', $ext);
}

make_ca('ca',  'wmproxy test CA');
make_ca('ca2', 'another test CA');
make_leaf(name => $_, cn => $_) for qw(one.test two.test b.test c.test);
make_leaf(name => 'three.test', cn => 'three.test', alt => ['*.wild.test']);
make_leaf(name => 'dual-rsa', cn => 'dual-rsa.test', alt => ['dual.test']);
make_leaf(name => 'dual-ec', cn => 'dual-ec.test', alt => ['dual.test'],
    kind => 'ec');
make_leaf(name => 'client', cn => 'client one', use => 'client');
make_leaf(name => 'client2', cn => 'client two', use => 'client',
    ca => 'ca2');
# A client certificate no CA of ours signed.
ossl('req', '-x509', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout',
    "$C/self.key", '-out', "$C/self.crt", '-days', 3, '-subj', '/CN=self');
# A key that belongs to no certificate.
ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048',
    '-out', "$C/other.key");
# A certificate followed by a long chain: the server's first flight no
# longer fits in a small socket buffer.
{
    open my $out, '>', "$C/bigchain.crt" or die "bigchain: $!";
    for my $f ('one.test', ('ca') x 40) {
        open my $in, '<', "$C/$f.crt" or die "$f: $!";
        local $/;
        print {$out} <$in>;
    }
    close $out;
    open $out, '>', "$C/bigchain.key" or die "bigchain.key: $!";
    open my $in, '<', "$C/one.test.key" or die "one.test.key: $!";
    local $/;
    print {$out} <$in>;
    close $out;
}

sub slurp {
    open my $f, '<', shift or return '';
    binmode $f;
    local $/;
    return <$f> // '';
}

sub pem_of {
    my ($pem) = slurp(shift)
      =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----)/s;
    return $pem // 'NONE';
}

# ---- -t: configuration errors ---------------------------------------------------

# Each config: the test text after the 3 header lines; returns the -t run.
sub check_t {
    my ($text) = @_;
    my $conf = $t->write_conf($text, name => 'bad.conf');
    return ($conf, $t->run('-p', "$P/", '-c', $conf, '-t'));
}

{
    my ($conf, $r) = check_t(<<"EOF");
events { }
http {
    server {
        listen 127.0.0.1:1 ssl;
        ssl_certificate $C/nothere.crt;
        ssl_certificate_key $C/one.test.key;
    }
}
EOF
    isnt($r->{code}, 0, '-t, a missing certificate file: fails');
    like($r->{stderr}, qr/^\Q$conf\E:8: cannot load certificate "\Q$C\E\/nothere\.crt": .*No such file or directory/m,
        '-t, a missing certificate file: file:line of ssl_certificate '
          . 'and the path') or diag($r->{stderr});
    like($r->{stderr}, qr/configuration file \Q$conf\E test failed$/m,
        '-t, a missing certificate file: "test failed"');
}
{
    my ($conf, $r) = check_t(<<"EOF");
events { }
http {
    server {
        listen 127.0.0.1:1 ssl;
        ssl_certificate $C/one.test.crt;
        ssl_certificate_key $C/nothere.key;
    }
}
EOF
    isnt($r->{code}, 0, '-t, a missing key file: fails');
    like($r->{stderr}, qr/^\Q$conf\E:9: cannot load certificate key "\Q$C\E\/nothere\.key": .*No such file or directory/m,
        '-t, a missing key file: file:line of ssl_certificate_key')
      or diag($r->{stderr});
}
{
    my ($conf, $r) = check_t(<<"EOF");
events { }
http {
    server {
        listen 127.0.0.1:1 ssl;
        ssl_certificate $C/one.test.crt;
        ssl_certificate_key $C/other.key;
    }
}
EOF
    isnt($r->{code}, 0, '-t, a key that does not match: fails');
    like($r->{stderr}, qr/^\Q$conf\E:9: \S.*"\Q$C\E\/other\.key".*(?:does not match|mismatch)/m,
        '-t, a key that does not match: file:line of the key, its path, '
          . '"mismatch"') or diag($r->{stderr});
}
{
    my ($conf, $r) = check_t(<<"EOF");
events { }
http {
    server {
        listen 127.0.0.1:1 ssl;
        ssl_certificate $C/one.test.crt;
    }
}
EOF
    isnt($r->{code}, 0, '-t, a certificate without a key: fails');
    like($r->{stderr}, qr/^\Q$conf\E:8: no "ssl_certificate_key" is defined for certificate "\Q$C\E\/one\.test\.crt"$/m,
        '-t, a certificate without a key: the nginx message')
      or diag($r->{stderr});
}
{
    my ($conf, $r) = check_t(<<"EOF");
events { }
http {
    server {
        server_name x.test;
        listen 127.0.0.1:1 ssl;
        root $P;
    }
}
EOF
    isnt($r->{code}, 0, '-t, listen ... ssl without a certificate: fails');
    like($r->{stderr}, qr/^\Q$conf\E:8: /m,
        '-t, listen ... ssl without a certificate: file:line of the '
          . 'listen directive') or diag($r->{stderr});
    like($r->{stderr}, qr/^\Q$conf\E:\d+: no "ssl_certificate" is defined for the "listen \.\.\. ssl" directive$/m,
        '-t, listen ... ssl without a certificate: the nginx message')
      or diag($r->{stderr});
}
{
    my ($conf, $r) = check_t(<<"EOF");
events { }
http {
    server {
        listen 127.0.0.1:1 ssl;
        ssl_certificate $C/one.test.crt;
        ssl_certificate_key $C/one.test.key;
        ssl_ciphers NO-SUCH-CIPHER;
    }
}
EOF
    isnt($r->{code}, 0, '-t, ssl_ciphers that match nothing: fails');
    like($r->{stderr}, qr/^\Q$conf\E:10: .*"ssl_ciphers".*NO-SUCH-CIPHER/m,
        '-t, ssl_ciphers that match nothing: file:line of ssl_ciphers')
      or diag($r->{stderr});
}
{
    my ($conf, $r) = check_t(<<"EOF");
events { }
http {
    server {
        listen 127.0.0.1:1 ssl;
        ssl_certificate $C/one.test.crt;
        ssl_certificate_key $C/one.test.key;
        ssl_ecdh_curve no-such-curve;
    }
}
EOF
    isnt($r->{code}, 0, '-t, an unknown ssl_ecdh_curve: fails');
    like($r->{stderr}, qr/^\Q$conf\E:10: .*"ssl_ecdh_curve".*no-such-curve/m,
        '-t, an unknown ssl_ecdh_curve: file:line of ssl_ecdh_curve')
      or diag($r->{stderr});
}
{
    my ($conf, $r) = check_t(<<"EOF");
events { }
http {
    server {
        listen 127.0.0.1:1 ssl;
        ssl_certificate $C/one.test.crt;
        ssl_certificate_key $C/one.test.key;
        ssl_protocols TLSv1.2 TLSv1.4;
    }
}
EOF
    like($r->{stderr}, qr/^\Q$conf\E:10: "ssl_protocols" directive has invalid value "TLSv1\.4"$/m,
        '-t, ssl_protocols TLSv1.4: file:line and the value')
      or diag($r->{stderr});
}
{
    my ($conf, $r) = check_t(<<"EOF");
events { }
http {
    ssl_certificate $C/dual-rsa.crt;
    ssl_certificate_key $C/dual-rsa.key;
    ssl_certificate $C/dual-ec.crt;
    ssl_certificate_key $C/dual-ec.key;
    server {
        listen 127.0.0.1:1 ssl;
    }
}
EOF
    is($r->{code}, 0, '-t, certificates given in http are inherited: ok')
      or diag($r->{stderr});
}

# ---- the main server ----------------------------------------------------------

my %p = map { $_ => $t->port }
  qw(sni dual plain v13 ciph pref nopref tk on opt noca x trust big idle);

my $files = {
    'html/index.html' => "<html>TLS index</html>\n",
    'html/a.txt'      => "0123456789abcdefghij\n",
    'html/dir/index.html' => "dir index\n",
};
$t->write_file($_, $files->{$_}) for sort keys %$files;

# 2 MB and a bit of bytes, the same on every run.
my $big = do {
    my $seed = 4242;
    my $s    = '';
    while (length $s < 2 * 1024 * 1024 + 77) {
        $seed = ($seed * 1103515245 + 12345) & 0x7fffffff;
        $s .= pack 'N', $seed;
    }
    substr($s, 0, 2 * 1024 * 1024 + 77);
};
$t->write_file('html/big.bin', $big);

sub cert {
    my ($name) = @_;
    return "ssl_certificate $C/$name.crt;\n"
      . "        ssl_certificate_key $C/$name.key;";
}

my $VARS = '$scheme|$https|$ssl_protocol|$ssl_server_name|'
  . '$ssl_session_reused|$ssl_client_verify|$ssl_cipher\n';

$t->write_conf(<<"EOF");
worker_processes 2;
events { }
http {
    types {
        text/html html;
        text/plain txt;
        application/octet-stream bin;
    }
    server {
        listen 127.0.0.1:$p{sni} ssl;
        server_name one.test;
        @{[ cert('one.test') ]}
        return 200 "\$server_name|\$ssl_server_name\\n";
    }
    server {
        listen 127.0.0.1:$p{sni} ssl default_server;
        server_name two.test;
        @{[ cert('two.test') ]}
        return 200 "\$server_name|\$ssl_server_name\\n";
    }
    server {
        listen 127.0.0.1:$p{sni} ssl;
        server_name three.test *.wild.test;
        @{[ cert('three.test') ]}
        return 200 "\$server_name|\$ssl_server_name\\n";
    }

    server {
        listen 127.0.0.1:$p{dual} ssl;
        listen 127.0.0.1:$p{plain};
        server_name dual.test;
        @{[ cert('dual-rsa') ]}
        @{[ cert('dual-ec') ]}
        root $P/html;
        location = /v { return 200 "$VARS"; }
        location = /conn { return 200 "\$connection \$connection_requests\\n"; }
    }

    server {
        listen 127.0.0.1:$p{v13} ssl;
        @{[ cert('one.test') ]}
        ssl_protocols TLSv1.3;
        return 200 "\$ssl_protocol\\n";
    }
    server {
        listen 127.0.0.1:$p{ciph} ssl;
        @{[ cert('one.test') ]}
        ssl_protocols TLSv1.2;
        ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256;
        return 200 "\$ssl_cipher\\n";
    }
    server {
        listen 127.0.0.1:$p{pref} ssl;
        @{[ cert('one.test') ]}
        ssl_protocols TLSv1.2;
        ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384;
        ssl_prefer_server_ciphers on;
        return 200 "\$ssl_cipher\\n";
    }
    server {
        listen 127.0.0.1:$p{nopref} ssl;
        @{[ cert('one.test') ]}
        ssl_protocols TLSv1.2;
        ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384;
        return 200 "\$ssl_cipher\\n";
    }

    server {
        listen 127.0.0.1:$p{tk} ssl reuseport;
        @{[ cert('one.test') ]}
        return 200 "reused=\$ssl_session_reused pid=\$pid\\n";
    }

    server {
        listen 127.0.0.1:$p{on} ssl;
        server_name on.test;
        @{[ cert('b.test') ]}
        ssl_verify_client on;
        ssl_client_certificate $C/ca.crt;
        return 200 "\$ssl_client_verify\\n";
    }
    server {
        listen 127.0.0.1:$p{opt} ssl;
        @{[ cert('b.test') ]}
        ssl_verify_client optional;
        ssl_client_certificate $C/ca.crt;
        return 200 "\$ssl_client_verify\\n";
    }
    server {
        listen 127.0.0.1:$p{noca} ssl;
        @{[ cert('b.test') ]}
        ssl_verify_client optional_no_ca;
        return 200 "\$ssl_client_verify\\n";
    }
    server {
        listen 127.0.0.1:$p{x} ssl;
        server_name b.test;
        @{[ cert('b.test') ]}
        ssl_verify_client on;
        ssl_client_certificate $C/ca.crt;
        return 200 "b:\$ssl_client_verify:\$ssl_session_reused\\n";
    }
    server {
        listen 127.0.0.1:$p{x} ssl;
        server_name c.test;
        @{[ cert('c.test') ]}
        ssl_verify_client on;
        ssl_client_certificate $C/ca2.crt;
        return 200 "c:\$ssl_client_verify:\$ssl_session_reused\\n";
    }

    server {
        listen 127.0.0.1:$p{trust} ssl;
        @{[ cert('b.test') ]}
        ssl_verify_client on;
        ssl_client_certificate $C/ca.crt;
        ssl_trusted_certificate $C/ca2.crt;
        return 200 "\$ssl_client_verify\\n";
    }

    server {
        listen 127.0.0.1:$p{big} ssl sndbuf=4k;
        ssl_certificate $C/bigchain.crt;
        ssl_certificate_key $C/bigchain.key;
        client_header_timeout 20s;
        return 200 "big chain\\n";
    }
    server {
        listen 127.0.0.1:$p{idle} ssl;
        @{[ cert('one.test') ]}
        client_header_timeout 2s;
        return 200 "idle\\n";
    }
}
EOF

my $mp = $t->start(workers => 2, ports => [ values %p ]);
unless ($mp) {
    $t->done;
    exit;
}

# ---- a GET -----------------------------------------------------------------

{
    my $r = url('dual.test', $p{dual}, '/');
    is($r->{code}, 0, 'GET /: curl verifies the chain and the name with the '
          . 'test CA') or diag($r->{err});
    is($r->{line}, 'HTTP/1.1 200 OK', 'GET /: HTTP/1.1 200 OK');
    is($r->{h}{server}, "wmproxy/$version", "GET /: Server: wmproxy/$version");
    is($r->{h}{'content-type'}, 'text/html', 'GET /: Content-Type: text/html');
    is($r->{h}{'content-length'}, length $files->{'html/index.html'},
        'GET /: Content-Length');
    is($r->{h}{'accept-ranges'}, 'bytes', 'GET /: Accept-Ranges: bytes');
    my @st = stat "$P/html/index.html";
    is($r->{h}{etag}, sprintf('"%x-%x"', $st[9], $st[7]), 'GET /: ETag');
    is($r->{h}{connection}, 'keep-alive', 'GET /: Connection: keep-alive');
    is($r->{h}{'strict-transport-security'}, undef,
        'GET /: no header that the config did not ask for');
    is($r->{body}, $files->{'html/index.html'}, 'GET /: the exact body');

    $r = url('dual.test', $p{dual}, '/a.txt', '-H', 'Range: bytes=2-5');
    is($r->{line}, 'HTTP/1.1 206 Partial Content', 'a range over TLS: 206');
    is($r->{body}, '2345', 'a range over TLS: the bytes');

    $r = url('dual.test', $p{dual}, '/nothere');
    is($r->{line}, 'HTTP/1.1 404 Not Found', 'a missing file over TLS: 404');
    is($r->{body}, page('404 Not Found'), 'a missing file: the 404 page');
}

# ---- SNI -------------------------------------------------------------------

for my $name (qw(one.test two.test three.test)) {
    my $s = sclient($p{sni}, sni => $name);
    is($s->{cn}, $name, "SNI $name: the certificate of $name");
    my $r = url($name, $p{sni}, '/');
    is($r->{code}, 0, "SNI $name: curl accepts it for $name")
      or diag($r->{err});
    is($r->{body}, "$name|$name\n", "SNI $name: served by $name, "
          . "\$ssl_server_name $name");
}
{
    my $s = sclient($p{sni}, sni => 'nope.test',
        send => get_req('nope.test', '/'));
    is($s->{cn}, 'two.test', 'an unknown SNI name: the default_server\'s '
          . 'certificate (two.test, the second server)');
    like($s->{out}, qr/^two\.test\|nope\.test$/m,
        'an unknown SNI name: the default server answers, '
          . '$ssl_server_name is the name sent');
    $s = sclient($p{sni});
    is($s->{cn}, 'two.test', 'no SNI: the default server\'s certificate');
    $s = sclient($p{sni}, sni => 'THREE.TEST');
    is($s->{cn}, 'three.test', 'SNI in upper case: three.test');
    $s = sclient($p{sni}, sni => 'x.wild.test',
        send => get_req('x.wild.test', '/'));
    is($s->{cn}, 'three.test', 'SNI x.wild.test: the wildcard server\'s '
          . 'certificate');
    like($s->{out}, qr/^three\.test\|x\.wild\.test$/m,
        'SNI x.wild.test: the wildcard server answers');
    my $r = url('one.test', $p{sni}, '/', '-H', 'Host: three.test');
    is($r->{body}, "three.test|one.test\n", 'SNI one.test, Host: three.test: '
          . 'the request goes by Host (no client certificates involved)');
}

# ---- RSA and ECDSA on one server ---------------------------------------------

{
    my $s = sclient($p{dual}, sni => 'dual.test',
        args => [ '-sigalgs', 'ecdsa_secp256r1_sha256' ]);
    is($s->{cn}, 'dual-ec.test', 'TLS 1.3, a client that takes ECDSA only: '
          . 'the ECDSA certificate');
    $s = sclient($p{dual}, sni => 'dual.test',
        args => [ '-sigalgs', 'rsa_pss_rsae_sha256:rsa_pkcs1_sha256' ]);
    is($s->{cn}, 'dual-rsa.test', 'TLS 1.3, a client that takes RSA only: '
          . 'the RSA certificate');
    $s = sclient($p{dual}, sni => 'dual.test',
        args => [ '-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256' ]);
    is($s->{cn}, 'dual-ec.test', 'TLS 1.2, ECDHE-ECDSA: the ECDSA '
          . 'certificate');
    is($s->{cipher}, 'ECDHE-ECDSA-AES128-GCM-SHA256', 'TLS 1.2, ECDHE-ECDSA: '
          . 'that cipher');
    $s = sclient($p{dual}, sni => 'dual.test',
        args => [ '-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256' ]);
    is($s->{cn}, 'dual-rsa.test', 'TLS 1.2, ECDHE-RSA: the RSA certificate');
    is($s->{pem}, pem_of("$C/dual-rsa.crt"), 'TLS 1.2, ECDHE-RSA: the very '
          . 'certificate of the file');
    my $r = url('dual.test', $p{dual}, '/v', '--ciphers',
        'ECDHE-ECDSA-AES256-GCM-SHA384', '--tls-max', '1.2');
    is($r->{code}, 0, 'curl with ECDSA only verifies the ECDSA chain')
      or diag($r->{err});
}

# ---- variables ---------------------------------------------------------------

{
    my $r = url('dual.test', $p{dual}, '/v');
    like($r->{body}, qr/^https\|on\|TLSv1\.3\|dual\.test\|\.\|NONE\|TLS_AES_\w+$/,
        'TLS 1.3: $scheme https, $https on, $ssl_protocol TLSv1.3, '
          . '$ssl_server_name, $ssl_session_reused ".", $ssl_client_verify '
          . 'NONE, $ssl_cipher') or diag($r->{body});
    $r = url('dual.test', $p{dual}, '/v', '--tls-max', '1.2', '--ciphers',
        'ECDHE-RSA-AES128-GCM-SHA256');
    is($r->{body}, "https|on|TLSv1.2|dual.test|.|NONE|"
          . "ECDHE-RSA-AES128-GCM-SHA256\n", 'TLS 1.2: the same variables');
    $r = curl("https://127.0.0.1:$p{dual}/v", '-k');
    like($r->{body}, qr/^https\|on\|TLSv1\.3\|\|/,
        'no SNI: $ssl_server_name is empty');
    $r = cmd('curl', '-sS', '--max-time', 10,
        "http://127.0.0.1:$p{plain}/v");
    is($r->{out}, "http||||||\n", 'the same server on a plain port: '
          . '$scheme http, the others empty');
}

# ---- a big file, keep-alive, redirects ------------------------------------------

{
    my $r = url('dual.test', $p{dual}, '/big.bin');
    is($r->{h}{'content-length'}, length $big, '2 MB over TLS: Content-Length');
    is(length($r->{body} // ''), length $big, '2 MB over TLS: length');
    is(sha256_hex($r->{body} // ''), sha256_hex($big),
        '2 MB over TLS: sha256');

    my $n = ++$ncmd;
    my $c = cmd('curl', '-sS', '--http1.1', '--max-time', 15, '--cacert',
        "$C/ca.crt", resolve([ 'dual.test', $p{dual} ]), '-w',
        '%{http_code} %{num_connects}\n',
        '-o', "$P/cmd/$n.1", "https://dual.test:$p{dual}/a.txt",
        '-o', "$P/cmd/$n.2", "https://dual.test:$p{dual}/conn",
        '-o', "$P/cmd/$n.3", "https://dual.test:$p{dual}/conn");
    is($c->{out}, "200 1\n200 0\n200 0\n", 'curl with 3 URLs: one TLS '
          . 'connection, three 200s') or diag($c->{err});
    is(slurp("$P/cmd/$n.1"), $files->{'html/a.txt'}, 'keep-alive: the first '
          . 'body');
    my ($c2, $c3) = (slurp("$P/cmd/$n.2"), slurp("$P/cmd/$n.3"));
    my ($id2) = $c2 =~ /^(\d+) 2$/;
    ok($id2 && $c3 eq "$id2 3\n", 'keep-alive: $connection is the same, '
          . '$connection_requests 2 then 3') or diag("got: $c2 / $c3");

    $r = url('dual.test', $p{dual}, '/dir');
    is($r->{line}, 'HTTP/1.1 301 Moved Permanently', 'a directory without '
          . 'slash over TLS: 301');
    is($r->{h}{location}, "https://dual.test:$p{dual}/dir/",
        'the redirect: https:// and the port');
    $r = url('dual.test', $p{dual}, '/dir?x=1', '-H',
        'Host: www.example.com');
    is($r->{h}{location}, "https://www.example.com:$p{dual}/dir/?x=1",
        'the redirect: the Host, the port of the socket, the arguments');
    $r = cmd('curl', '-sS', '-D', '-', '-o', '/dev/null', '--max-time', 10,
        "http://127.0.0.1:$p{plain}/dir");
    like($r->{out}, qr{^Location: http://127\.0\.0\.1:$p{plain}/dir/\r$}m,
        'the same server on the plain port: http://');
}

# ---- protocols and ciphers ----------------------------------------------------

{
    my $off = $t->log_size;
    my $s = sclient($p{v13}, sni => 'one.test', args => ['-tls1_2']);
    ok(!$s->{ok} && $s->{code} != 0, 'ssl_protocols TLSv1.3: a TLS 1.2 '
          . 'client fails the handshake') or diag($s->{out});
    ok($t->wait_log(qr/^$D \[info\] \d+#\d+: (?:\*\d+ )?SSL handshake failed\b.*client: 127\.0\.0\.1/m,
            from => $off, timeout => 5),
        'ssl_protocols TLSv1.3: [info] SSL handshake failed ... client: ...')
      or diag($t->log_since($off));
    sleep 0.2;
    unlike($t->log_since($off),
        qr/\[(?:notice|warn|error|crit|alert|emerg)\]/,
        'ssl_protocols TLSv1.3: nothing above info in the log');
    my $r = url('one.test', $p{v13}, '/', '--tls-max', '1.2');
    is($r->{code}, 35, 'ssl_protocols TLSv1.3: curl --tls-max 1.2 fails '
          . 'in the handshake (35)');
    $s = sclient($p{v13}, sni => 'one.test', args => ['-tls1_3'],
        send => get_req('one.test', '/'));
    is($s->{proto}, 'TLSv1.3', 'ssl_protocols TLSv1.3: a TLS 1.3 client '
          . 'gets TLS 1.3');
    like($s->{out}, qr/^TLSv1\.3$/m, 'ssl_protocols TLSv1.3: '
          . '$ssl_protocol TLSv1.3');

    $s = sclient($p{ciph}, sni => 'one.test',
        args => [ '-tls1_2', '-cipher', 'ECDHE-RSA-AES256-GCM-SHA384' ]);
    ok(!$s->{ok}, 'ssl_ciphers: a client without the one cipher fails');
    $s = sclient($p{ciph}, sni => 'one.test',
        args => [ '-tls1_2', '-cipher',
            'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256' ],
        send => get_req('one.test', '/'));
    is($s->{cipher}, 'ECDHE-RSA-AES128-GCM-SHA256', 'ssl_ciphers: the one '
          . 'cipher allowed is chosen');
    like($s->{out}, qr/^ECDHE-RSA-AES128-GCM-SHA256$/m,
        'ssl_ciphers: $ssl_cipher');
    $s = sclient($p{ciph}, sni => 'one.test', args => ['-tls1_3']);
    ok(!$s->{ok}, 'ssl_protocols TLSv1.2: a TLS 1.3 only client fails');

    my @client = ('-tls1_2', '-cipher',
        'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256');
    $s = sclient($p{pref}, sni => 'one.test', args => \@client);
    is($s->{cipher}, 'ECDHE-RSA-AES128-GCM-SHA256',
        'ssl_prefer_server_ciphers on: the server\'s first cipher');
    $s = sclient($p{nopref}, sni => 'one.test', args => \@client);
    is($s->{cipher}, 'ECDHE-RSA-AES256-GCM-SHA384',
        'ssl_prefer_server_ciphers off: the client\'s first cipher');
}

# ---- session resumption with tickets, 2 workers ----------------------------------

for my $v ([ '1.3', '-tls1_3', "$P/cmd/tk13.pem" ],
    [ '1.2', '-tls1_2', "$P/cmd/tk12.pem" ])
{
    my ($ver, $flag, $file) = @$v;
    my $s = sclient($p{tk}, sni => 'one.test',
        args => [ $flag, '-sess_out', $file ], send => get_req('t', '/'));
    is($s->{state}, 'New', "TLS $ver: the first handshake is new");
    like($s->{out}, qr/^reused=\. pid=\d+$/m, "TLS $ver: "
          . '$ssl_session_reused "."');
    like($s->{out}, qr/TLS session ticket lifetime hint: 300 \(seconds\)/,
        "TLS $ver: a ticket is issued, valid 300 s (ssl_session_timeout)");
    my (%pids, @bad);
    my $i = 0;
    while ($i < 24 && ($i < 6 || keys %pids < 2)) {
        $i++;
        my $r = sclient($p{tk}, sni => 'one.test',
            args => [ $flag, '-sess_in', $file ], send => get_req('t', '/'));
        my ($reused, $pid) = $r->{out} =~ /^reused=(\S) pid=(\d+)$/m;
        push @bad, "try $i: $r->{state}, \$ssl_session_reused "
          . ($reused // '?')
          unless $r->{state} eq 'Reused' && ($reused // '') eq 'r';
        $pids{$pid}++ if $pid;
    }
    ok(!@bad, "TLS $ver: -sess_in $i times: Reused each time, "
          . '$ssl_session_reused "r"') or diag(join "\n", @bad);
    is(scalar keys %pids, 2, "TLS $ver: both workers resumed the ticket")
      or diag('pids: ' . join ' ', %pids);
}

{
    my $f = "$P/cmd/sni.pem";
    my $s = sclient($p{sni}, sni => 'one.test', args => [ '-sess_out', $f ],
        send => get_req('one.test', '/'));
    my $r = sclient($p{sni}, sni => 'one.test', args => [ '-sess_in', $f ],
        send => get_req('one.test', '/'));
    is($r->{state}, 'Reused', 'SNI one.test (not the default server): its '
          . 'session is resumed');
    like($r->{out}, qr/^one\.test\|one\.test$/m, 'the resumed session is '
          . 'served by one.test');
}

# ---- client certificates --------------------------------------------------------

my @CL  = ('--cert', "$C/client.crt",  '--key', "$C/client.key");
my @CL2 = ('--cert', "$C/client2.crt", '--key', "$C/client2.key");
my @SELF = ('--cert', "$C/self.crt", '--key', "$C/self.key");
{
    my $off = $t->log_size;
    my $r = url('b.test', $p{on}, '/');
    is($r->{code}, 0, 'ssl_verify_client on, no certificate: the handshake '
          . 'succeeds (as nginx)') or diag($r->{err});
    is($r->{line}, 'HTTP/1.1 400 Bad Request', 'ssl_verify_client on, no '
          . 'certificate: 400');
    is($r->{body} // '', "<html>\r\n<head><title>400 No required SSL "
          . "certificate was sent</title></head>\r\n<body>\r\n<center><h1>"
          . "400 Bad Request</h1></center>\r\n<center>No required SSL "
          . "certificate was sent</center>\r\n<hr><center>wmproxy/$version"
          . "</center>\r\n</body>\r\n</html>\r\n",
        'ssl_verify_client on, no certificate: the page says "No required '
          . 'SSL certificate was sent"');
    ok($t->wait_log(qr/^$D \[info\] .*client sent no required SSL certificate/m,
            from => $off, timeout => 3),
        'ssl_verify_client on, no certificate: logged at info')
      or diag($t->log_since($off));

    $r = url('b.test', $p{on}, '/', @CL);
    is($r->{line}, 'HTTP/1.1 200 OK', 'ssl_verify_client on, a certificate '
          . 'of the CA: 200') or diag($r->{err});
    is($r->{body}, "SUCCESS\n", 'ssl_verify_client on: $ssl_client_verify '
          . 'SUCCESS');

    $r = url('b.test', $p{on}, '/', @SELF);
    is($r->{line}, 'HTTP/1.1 400 Bad Request', 'ssl_verify_client on, a '
          . 'certificate of no known CA: 400 (as nginx)') or diag($r->{err});
    is($r->{body} // '', "<html>\r\n<head><title>400 The SSL certificate "
          . "error</title></head>\r\n<body>\r\n<center><h1>400 Bad Request"
          . "</h1></center>\r\n<center>The SSL certificate error</center>"
          . "\r\n<hr><center>wmproxy/$version</center>\r\n</body>\r\n"
          . "</html>\r\n",
        'ssl_verify_client on, a bad certificate: "The SSL certificate '
          . 'error"');

    $r = url('b.test', $p{opt}, '/');
    is($r->{body}, "NONE\n", 'ssl_verify_client optional, no certificate: '
          . '200 NONE') or diag($r->{err});
    $r = url('b.test', $p{opt}, '/', @CL);
    is($r->{body}, "SUCCESS\n", 'ssl_verify_client optional, a certificate '
          . 'of the CA: SUCCESS');
    $r = url('b.test', $p{opt}, '/', @SELF);
    is($r->{line}, 'HTTP/1.1 400 Bad Request', 'ssl_verify_client optional, '
          . 'a certificate of no known CA: 400 (as nginx)') or diag($r->{err});

    $r = url('b.test', $p{noca}, '/', @SELF);
    like($r->{body} // '', qr/^FAILED\b/, 'ssl_verify_client '
          . 'optional_no_ca, a certificate of no known CA: 200 FAILED')
      or diag($r->{err});
    $r = url('b.test', $p{noca}, '/');
    is($r->{body}, "NONE\n", 'optional_no_ca, no certificate: NONE');

    my $s = sclient($p{on}, sni => 'b.test');
    is($s->{chain}, 1, 'ssl_client_certificate: the server sends its own '
          . 'certificate file (1 certificate), not the client CA as a chain');
    like($s->{out}, qr/^Acceptable client certificate CA names\nCN = wmproxy test CA\n(?:Requested|Client Certificate Types)/m,
        'ssl_verify_client on: the CA names sent are those of '
          . 'ssl_client_certificate');
    $r = url('b.test', $p{trust}, '/', @CL2);
    is($r->{body}, "SUCCESS\n", 'ssl_trusted_certificate: a client of ca2 is '
          . 'verified') or diag($r->{err});
    $s = sclient($p{trust}, sni => 'b.test');
    ok($s->{out} !~ /^CN = another test CA$/m, 'ssl_trusted_certificate: '
          . 'its CA is not sent to clients');

    # Two servers on one address trust different CAs.
    $r = url('c.test', $p{x}, '/', @CL2);
    is($r->{body}, "c:SUCCESS:.\n", 'c.test trusts ca2: its client gets in');
    $r = url('b.test', $p{x}, '/', @CL2);
    isnt($r->{status}, 200, 'b.test trusts ca: a client of ca2 is not let '
          . 'in');
    $r = url('c.test', $p{x}, '/', @CL2, '-H', 'Host: b.test');
    is($r->{line}, 'HTTP/1.1 421 Misdirected Request', 'SNI c.test with a '
          . 'certificate of ca2, Host: b.test: 421 (as nginx), not b.test\'s '
          . 'content') or diag("body: " . ($r->{body} // ''));
    my $sess = "$P/cmd/x.pem";
    $s = sclient($p{x}, sni => 'c.test',
        args => [ '-cert', "$C/client2.crt", '-key', "$C/client2.key",
            '-sess_out', $sess ], send => get_req('c.test', '/'));
    like($s->{out}, qr/^c:SUCCESS:\.$/m, 'a session of c.test with a '
          . 'certificate of ca2');
    $s = sclient($p{x}, sni => 'b.test', args => [ '-sess_in', $sess ],
        send => get_req('b.test', '/'));
    ok($s->{out} !~ /^b:SUCCESS/m, 'that session resumed with SNI '
          . 'b.test does not pass b.test\'s check (ca only)')
      or diag("$s->{state}: " . join ' ', $s->{out} =~ /^(b:\S+)$/mg);
}

# ---- plain HTTP and broken handshakes ------------------------------------------

my @w = $t->workers;
{
    my $off = $t->log_size;
    my $t0  = time;
    my $got = $t->talk($p{dual}, "GET / HTTP/1.1\r\nHost: dual.test\r\n\r\n",
        timeout => 5);
    ok(time - $t0 < 3, 'plain HTTP to the TLS port: the connection is '
          . 'closed at once');
    like($got // "undef: $!", qr{\AHTTP/1\.1 400 Bad Request\r\n.*\r\n\r\n<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title>}s,
        'plain HTTP to the TLS port: no TLS bytes, a 400 whose page says '
          . 'why (as nginx; t/http_ssl_plain.t has the details)');
    ok($t->wait_log(qr/^$D \[info\] .*client sent plain HTTP request to HTTPS port, client: 127\.0\.0\.1, server: dual\.test/m,
            from => $off, timeout => 3),
        'plain HTTP to the TLS port: [info] client sent plain HTTP request '
          . 'to HTTPS port');

    my $ch = client_hello('dual.test');
    # The first 40 bytes of a ClientHello, then a close.
    my $s = raw_connect($p{dual}) or die "connect: $!";
    syswrite $s, substr($ch, 0, 40);
    sleep 0.1;
    close $s;
    # A whole ClientHello; the client reads a little of the answer.
    $s = raw_connect($p{dual}) or die "connect: $!";
    syswrite $s, $ch;
    my $rin = '';
    vec($rin, fileno $s, 1) = 1;
    select(my $r = $rin, undef, undef, 2);
    sysread $s, my $b, 10;
    close $s;
    # A whole ClientHello, then a reset.
    $s = raw_connect($p{dual}) or die "connect: $!";
    syswrite $s, $ch;
    sleep 0.05;
    setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    close $s;
    # Connected, nothing sent.
    $s = raw_connect($p{dual}) or die "connect: $!";
    close $s;
    # A ClientHello in 1-byte segments: the handshake still goes on.
    $s = raw_connect($p{dual}) or die "connect: $!";
    setsockopt($s, Socket::IPPROTO_TCP(), Socket::TCP_NODELAY(), 1);
    for my $byte (split //, $ch) {
        syswrite $s, $byte;
        sleep 0.002;
    }
    my ($hello) = drain($s, 1);
    is(unpack('H*', substr($hello, 0, 3)), '160303', 'a ClientHello in '
          . '1-byte segments: a handshake record comes back');
    close $s;
    # A TLS record header that announces more than a record may hold.
    $s = raw_connect($p{dual}) or die "connect: $!";
    syswrite $s, "\x16\x03\x01\xff\xff" . ("\0" x 64);
    my ($junk, $eof) = drain($s, 5);
    ok($eof, 'a record too long: the connection is closed');
    close $s;
    sleep 0.3;

    my $g = url('dual.test', $p{dual}, '/a.txt');
    is($g->{body}, $files->{'html/a.txt'}, 'after broken handshakes the '
          . 'server serves');
    is_deeply([ $t->workers ], \@w, 'after broken handshakes: the same '
          . 'workers (none crashed)');
    unlike($t->log_since($off), qr/SSL handshake failed +[,(]/,
        'broken handshakes: each "SSL handshake failed" line says why')
      or diag(join "\n", $t->log_since($off)
          =~ /^(.*SSL handshake failed +[,(].*)$/mg);
    unlike($t->log_since($off), qr/\[(?:error|crit|alert|emerg)\]/,
        'broken handshakes: nothing at error or above in the log')
      or diag($t->log_since($off));

    # A silent client: client_header_timeout bounds the handshake.
    $s = raw_connect($p{idle}) or die "connect: $!";
    my $t1 = time;
    (undef, $eof) = drain($s, 8);
    my $dt = time - $t1;
    ok($eof && $dt > 1.5 && $dt < 5, 'a client that sends nothing is '
          . 'closed after client_header_timeout (2 s)')
      or diag(sprintf 'eof %d after %.1f s', $eof, $dt);
    close $s;
    $s = raw_connect($p{idle}) or die "connect: $!";
    syswrite $s, substr($ch, 0, 60);
    $t1 = time;
    (undef, $eof) = drain($s, 8);
    $dt = time - $t1;
    ok($eof && $dt > 1.5 && $dt < 5, 'half a ClientHello, then silence: '
          . 'closed after client_header_timeout')
      or diag(sprintf 'eof %d after %.1f s', $eof, $dt);
    close $s;
}

# ---- a first flight that does not fit the socket buffer ---------------------

{
    my $ch = client_hello('big.test');
    my $s  = raw_connect($p{big}, rcvbuf => 2048) or die "connect: $!";
    syswrite $s, $ch;
    sleep 1;    # the server fills its 4k sndbuf and our small rcvbuf
    my ($got) = drain($s, 1.5);
    ok(length $got > 30_000, 'a big certificate chain arrives '
          . '(' . length($got) . ' bytes)');
    # The server now waits for our Finished, which never comes.
    my $c0 = ticks($t->workers);
    sleep 2;
    my $used = ticks($t->workers) - $c0;
    ok($used < 30, 'a handshake waiting for the client after a full send '
          . "buffer does not spin the worker ($used ticks in 2 s)");
    close $s;
    my $r = url('one.test', $p{big}, '/', '-k');
    is($r->{body}, "big chain\n", 'the big chain server serves');
}

# ---- IO::Socket::SSL: pipelining, a request in 1-byte records, a slow reader --

SKIP: {
    skip 'IO::Socket::SSL is not installed', 7 unless $HAVE_IO_SSL;
    my $new = sub {
        IO::Socket::SSL->new(PeerAddr => "127.0.0.1:$p{dual}",
            SSL_hostname => 'dual.test', SSL_ca_file => "$C/ca.crt",
            SSL_verifycn_name => 'dual.test', SSL_verifycn_scheme => 'http',
            Timeout => 5);
    };
    # Reads until EOF or the deadline (slow: small reads with pauses).
    my $read_all = sub {
        my ($s, $timeout, $slow) = @_;
        my $end = time + $timeout;
        my $buf = '';
        my $rin = '';
        vec($rin, fileno $s, 1) = 1;
        while ((my $left = $end - time) > 0) {
            next if !$s->pending && !select(my $r = $rin, undef, undef, $left);
            my $n = sysread($s, $buf, $slow ? 16384 : 65536, length $buf);
            last unless $n;
            sleep 0.01 if $slow;
        }
        return $buf;
    };
    my $s = $new->() or die "IO::Socket::SSL: $IO::Socket::SSL::SSL_ERROR";
    my $one = "GET /a.txt HTTP/1.1\r\nHost: dual.test\r\n\r\n";
    print $s $one x 3, get_req('dual.test', '/conn');
    my $buf = $read_all->($s, 10);
    my @st  = $buf =~ m{^HTTP/1\.1 (\d+)}mg;
    is("@st", '200 200 200 200', '4 pipelined requests in one TLS write: '
          . '4 responses');
    like($buf, qr/\r\n\r\n\d+ 4\n\z/, 'the last is the 4th request of the '
          . 'connection');
    close $s;

    # A 1 MB body nobody reads, then a request on the same connection.
    $s = $new->() or die "IO::Socket::SSL: $IO::Socket::SSL::SSL_ERROR";
    my $mb = 'x' x 1_000_000;
    print $s "POST /v HTTP/1.1\r\nHost: dual.test\r\nContent-Length: "
      . length($mb) . "\r\n\r\n$mb" . get_req('dual.test', '/a.txt');
    $buf = $read_all->($s, 20);
    @st = $buf =~ m{^HTTP/1\.1 (\d+)}mg;
    is("@st", '200 200', 'a POST with 1 MB over TLS and a GET after it: two '
          . '200s');
    like($buf, qr/\r\n\r\n\Q$files->{'html\/a.txt'}\E\z/, 'the GET after '
          . 'the body gets the file');
    close $s;

    $s = $new->() or die "IO::Socket::SSL: $IO::Socket::SSL::SSL_ERROR";
    for my $c (split //, get_req('dual.test', '/a.txt')) {
        syswrite($s, $c);
        sleep 0.002;
    }
    $buf = $read_all->($s, 10);
    like($buf, qr/^HTTP\/1\.1 200 OK\r\n.*\r\n\r\n\Q$files->{'html\/a.txt'}\E\z/s,
        'a request sent in one-byte TLS records: 200 and the file');
    close $s;

    $s = $new->() or die "IO::Socket::SSL: $IO::Socket::SSL::SSL_ERROR";
    print $s get_req('dual.test', '/big.bin');
    $buf = $read_all->($s, 60, 1);
    my $i = index($buf, "\r\n\r\n");
    my $body = $i >= 0 ? substr($buf, $i + 4) : '';
    is(length $body, length $big, 'a slow reader gets all of 2 MB');
    is(sha256_hex($body), sha256_hex($big), 'a slow reader: sha256');
    close $s;
}

# ---- reload with a new certificate ----------------------------------------------

{
    my $old = sclient($p{sni}, sni => 'one.test');
    my $s = sclient($p{tk}, sni => 'one.test',
        args => [ '-sess_out', "$P/cmd/pre.pem" ],
        send => get_req('t', '/'));
    # A new key and certificate in the same files.
    make_leaf(name => 'one.test', cn => 'one.test');
    my $new = pem_of("$C/one.test.crt");
    isnt($old->{pem}, $new, 'the certificate file now holds another one');
    is($old->{pem}, $s->{pem}, 'before the reload: the old certificate');
    # An idle keep-alive TLS connection must not keep an old worker.
    my $idle;
    if ($HAVE_IO_SSL) {
        $idle = IO::Socket::SSL->new(PeerAddr => "127.0.0.1:$p{dual}",
            SSL_hostname => 'dual.test', SSL_verify_mode => 0, Timeout => 5);
        print $idle "GET /a.txt HTTP/1.1\r\nHost: dual.test\r\n\r\n"
          if $idle;
    }
    my $want = "Content-Length: " . length($files->{'html/a.txt'});
    my $got = '';
    while ($idle && $got !~ /\Q$files->{'html\/a.txt'}\E\z/) {
        sysread($idle, $got, 4096, length $got) or last;
    }
    $t->reload(workers => 2);
    SKIP: {
        skip 'IO::Socket::SSL is not installed', 1 unless $HAVE_IO_SSL;
        my $n = $idle ? sysread($idle, my $x, 100) : -1;
        ok(defined $n && $n == 0 && $got =~ /^\Q$want\E\r$/m,
            'an idle keep-alive TLS connection is closed by the reload');
    }
    my $r = sclient($p{sni}, sni => 'one.test');
    is($r->{pem}, $new, 'after the reload the new certificate is presented');
    $r = url('one.test', $p{sni}, '/');
    is($r->{body}, "one.test|one.test\n", 'after the reload curl verifies '
          . 'it and gets the answer') or diag($r->{err});
    $r = sclient($p{tk}, sni => 'one.test',
        args => [ '-sess_in', "$P/cmd/pre.pem" ], send => get_req('t', '/'));
    is($r->{state}, 'New', 'a ticket from before the reload is not '
          . 'resumed (the keys change on reload, as documented)');

    # A reload with a key that does not match fails; the old config stays.
    my @w1 = $t->workers;
    my $conf = $t->conf_path;
    open my $fh, '>', "$C/one.test.key" or die "key: $!";
    print $fh slurp("$C/other.key");
    close $fh;
    $t->expect_errors(qr/\[emerg\] .*one\.test\.key/,
        qr/\[emerg\] .*cannot start the new configuration/);
    my $off = $t->log_size;
    $t->signal('HUP');
    ok($t->wait_log(qr/^$D \[emerg\] $mp#0: \Q$conf\E:\d+: .*one\.test\.key/m,
            from => $off, timeout => 10),
        'a reload with a mismatched key: [emerg] with file:line')
      or diag($t->log_since($off));
    sleep 1;
    is_deeply([ $t->workers ], \@w1, 'a failed reload keeps the workers');
    $r = sclient($p{sni}, sni => 'one.test');
    is($r->{pem}, $new, 'and the certificate loaded before');
}

$t->stop;

# ---- a session cache without tickets, one worker --------------------------------

my %q = map { $_ => $t->port } qw(cache shared none short);
$t->write_conf(<<"EOF");
worker_processes 1;
events { }
http {
    ssl_session_tickets off;
    server {
        listen 127.0.0.1:$q{cache} ssl;
        @{[ cert('two.test') ]}
        ssl_session_cache builtin:1000;
        return 200 "reused=\$ssl_session_reused\\n";
    }
    server {
        listen 127.0.0.1:$q{shared} ssl;
        @{[ cert('two.test') ]}
        ssl_session_cache shared:SSL:1m;
        ssl_session_timeout 1h;
        return 200 "reused=\$ssl_session_reused\\n";
    }
    server {
        listen 127.0.0.1:$q{short} ssl;
        @{[ cert('two.test') ]}
        ssl_session_tickets on;
        ssl_session_timeout 2s;
        ssl_ecdh_curve secp384r1;
        return 200 "reused=\$ssl_session_reused\\n";
    }
    server {
        listen 127.0.0.1:$q{none} ssl;
        @{[ cert('two.test') ]}
        ssl_session_cache off;
        return 200 "reused=\$ssl_session_reused\\n";
    }
}
EOF
$t->start(workers => 1, ports => [ values %q ]) or do { $t->done; exit };

for my $v ([ 'cache', 'builtin' ], [ 'shared', 'shared:SSL:1m' ]) {
    my ($k, $what) = @$v;
    for my $flag ('-tls1_2', '-tls1_3') {
        my $f = "$P/cmd/$k$flag.pem";
        my $s = sclient($q{$k}, sni => 'two.test',
            args => [ $flag, '-sess_out', $f ], send => get_req('t', '/'));
        is($s->{state}, 'New', "$what, tickets off, $flag: new");
        if ($flag eq '-tls1_2') {
            unlike($s->{out}, qr/TLS session ticket:/,
                "$what, tickets off, TLS 1.2: no ticket is issued");
            like($s->{out}, qr/^\s*Session-ID: [0-9A-F]{64}$/m,
                "$what, TLS 1.2: a session id");
        }
        my @st;
        for (1 .. 3) {
            my $r = sclient($q{$k}, sni => 'two.test',
                args => [ $flag, '-sess_in', $f ], send => get_req('t', '/'));
            push @st, $r->{state} . ($r->{out} =~ /^reused=r$/m ? '/r' : '');
        }
        is("@st", 'Reused/r Reused/r Reused/r', "$what, tickets off, "
              . "$flag: -sess_in 3 times, Reused");
    }
}
for my $flag ('-tls1_2', '-tls1_3') {
    my $f = "$P/cmd/none$flag.pem";
    my $s = sclient($q{none}, sni => 'two.test',
        args => [ $flag, '-sess_out', $f ], send => get_req('t', '/'));
    if (!-e $f) {
        # s_client saves no session that it could not resume.
        like($s->{out}, qr/^\s*Session-ID: $/m, "ssl_session_cache off, "
              . "tickets off, $flag: an empty session id");
        unlike($s->{out}, qr/TLS session ticket:/, "ssl_session_cache off, "
              . "tickets off, $flag: no ticket: nothing to resume");
        next;
    }
    my $r = sclient($q{none}, sni => 'two.test',
        args => [ $flag, '-sess_in', $f ], send => get_req('t', '/'));
    is($r->{state}, 'New', "ssl_session_cache off, tickets off, $flag: no "
          . 'resumption');
    like($r->{out}, qr/^reused=\.$/m, "ssl_session_cache off, $flag: "
          . '$ssl_session_reused "."');
}

{
    my $s = sclient($q{short}, sni => 'two.test', args => ['-groups', 'X25519']);
    ok(!$s->{ok}, 'ssl_ecdh_curve secp384r1: a client with X25519 only '
          . 'fails');
    $s = sclient($q{short}, sni => 'two.test',
        args => [ '-groups', 'X25519:secp384r1', '-brief' ]);
    like($s->{err}, qr/^Server Temp Key: ECDH, secp384r1, 384 bits$/m,
        'ssl_ecdh_curve secp384r1: the key exchange uses secp384r1');
    for my $flag ('-tls1_2', '-tls1_3') {
        my $f = "$P/cmd/short$flag.pem";
        $s = sclient($q{short}, sni => 'two.test',
            args => [ $flag, '-sess_out', $f ], send => get_req('t', '/'));
        like($s->{out}, qr/TLS session ticket lifetime hint: 2 \(seconds\)/,
            "ssl_session_timeout 2s, $flag: the ticket says 2 s");
        my $r = sclient($q{short}, sni => 'two.test',
            args => [ $flag, '-sess_in', $f ], send => get_req('t', '/'));
        is($r->{state}, 'Reused', "ssl_session_timeout 2s, $flag: resumed "
              . 'at once');
    }
    sleep 3;
    for my $flag ('-tls1_2', '-tls1_3') {
        my $r = sclient($q{short}, sni => 'two.test',
            args => [ $flag, '-sess_in', "$P/cmd/short$flag.pem" ],
            send => get_req('t', '/'));
        is($r->{state}, 'New', "ssl_session_timeout 2s, $flag: not resumed "
              . '3 s later');
    }
}

unlike($t->log_text, qr/\[(?:crit|alert)\]/, 'no [crit] or [alert] in the log');
$t->stop;
$t->done;
