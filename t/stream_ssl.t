#!/usr/bin/perl
# TLS in stream servers (wmproxy.conf(5), STREAM SSL MODULE and STREAM
# PROXY SSL MODULE). Termination: openssl s_client against `listen ...
# ssl` (the $ssl_* variables answered by `return`, RSA and ECDSA
# certificates, ssl_protocols and ssl_ciphers, session resumption, client
# certificates, the handshake timeout, plain text on a TLS port), and
# IO::Socket::SSL moving 20 MB each way to plain backends. Origination:
# proxy_ssl on towards openssl s_server (the SNI it saw, a fatal
# unrecognized name, the client certificate it verified) and towards TLS
# backends in this process (verification against the right CA, the wrong
# CA making the next server serve, a name mismatch, session reuse). Both
# together: a plain client -> wmproxy (proxy_ssl) -> wmproxy (listen ssl)
# -> echo, 20 MB both ways at once. And the -t errors of bad settings.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use WmTest;

for my $tool ('openssl', 'timeout') {
    next if grep { -x "$_/$tool" } split /:/, $ENV{PATH} // '';
    plan skip_all => "$tool is not installed";
}
plan skip_all => 'IO::Socket::SSL is not installed'
  unless eval { require IO::Socket::SSL; 1 };

my $t = WmTest->new(timeout => 300);
my $P = $t->prefix;
my $C = "$P/certs";
mkdir $C or die "mkdir $C: $!";

my @kids;    # pids of the backends and clients this test started
END { local $?; for (@kids) { kill 'KILL', $_; waitpid($_, 0) } }

# ---- processes --------------------------------------------------------------

# Runs argv (bounded by timeout(1)) with stdin from the text in; returns
# {code, out, err}.
my $nrun = 0;
sub run_bounded {
    my ($in, $secs, @argv) = @_;
    my $base = "$P/run." . ++$nrun;
    open my $fh, '>', "$base.in" or die "$base.in: $!";
    print $fh $in;
    close $fh;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN,  '<', "$base.in"  or POSIX::_exit(126);
        open STDOUT, '>', "$base.out" or POSIX::_exit(126);
        open STDERR, '>', "$base.err" or POSIX::_exit(126);
        { no warnings 'exec'; exec 'timeout', '-s', 'KILL', $secs, @argv; }
        POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my %r = (code => $? >> 8);
    for my $k (qw(out err)) {
        open my $f, '<', "$base.$k" or next;
        local $/;
        $r{$k} = <$f> // '';
    }
    return \%r;
}

sub openssl {
    my $r = run_bounded('', 60, 'openssl', @_);
    die "openssl @_: $r->{err}" if $r->{code};
    return $r;
}

# ---- certificates -------------------------------------------------------------

my $serial = 7000;
# A CA: key and self-signed certificate NAME.key, NAME.crt.
sub ca {
    my ($name, $cn) = @_;
    openssl('req', '-x509', '-new', '-newkey', 'rsa:2048', '-nodes',
        '-keyout', "$C/$name.key", '-out', "$C/$name.crt", '-days', 2,
        '-subj', "/CN=$cn", '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}

# A certificate NAME signed by the CA `by`, for a server (SAN = cn) or a
# client; `ec` for a P-256 key.
sub cert {
    my ($name, $cn, %o) = @_;
    my @newkey = $o{ec}
      ? ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256')
      : ('-newkey', 'rsa:2048');
    openssl('req', '-new', @newkey, '-nodes', '-keyout', "$C/$name.key",
        '-out', "$C/$name.csr", '-subj', "/CN=$cn");
    open my $ext, '>', "$C/$name.ext" or die "$name.ext: $!";
    print $ext $o{client}
      ? "extendedKeyUsage=clientAuth\n"
      : "subjectAltName=DNS:$cn\nextendedKeyUsage=serverAuth\n";
    close $ext;
    openssl('x509', '-req', '-in', "$C/$name.csr", '-CA', "$C/$o{by}.crt",
        '-CAkey', "$C/$o{by}.key", '-set_serial', $serial++, '-days', 2,
        '-out', "$C/$name.crt", '-extfile', "$C/$name.ext");
}

ca('ca', 'stream test CA');
ca('ca2', 'unrelated CA');
cert('front', 'front.test', by => 'ca');
cert('front-ec', 'front-ec.test', by => 'ca', ec => 1);
cert('other', 'other.test', by => 'ca');
cert('backend', 'backend.test', by => 'ca');
cert('rogue', 'backend.test', by => 'ca2');
cert('client', 'stream client', by => 'ca', client => 1);
cert('client2', 'other client', by => 'ca2', client => 1);
cert('proxy', 'proxy client', by => 'ca', client => 1);
openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048',
    '-out', "$C/stray.key");

# ---- -t errors ------------------------------------------------------------------

$t->conf_rejected(<<"EOF", 7, qr/no "ssl_certificate" is defined for the "listen \.\.\. ssl" directive/, 'listen ssl without a certificate');
events { }
stream {
    server {
        listen 127.0.0.1:1 ssl;
        return x;
    }
}
EOF
$t->conf_rejected(<<"EOF", 9, qr/cannot load certificate "\Q$C\E\/none\.crt": .*No such file/, 'a missing certificate file');
events { }
stream {
    server {
        listen 127.0.0.1:1 ssl;
        return x;
        ssl_certificate $C/none.crt;
        ssl_certificate_key $C/front.key;
    }
}
EOF
$t->conf_rejected(<<"EOF", 10, qr/certificate key "\Q$C\E\/stray\.key".*(?:does not match|mismatch)/, 'a key of another certificate');
events { }
stream {
    server {
        listen 127.0.0.1:1 ssl;
        return x;
        ssl_certificate $C/front.crt;
        ssl_certificate_key $C/stray.key;
    }
}
EOF
$t->conf_rejected(<<"EOF", 10, qr/"ssl_protocols" directive has invalid value "TLSv9"/, 'an unknown protocol');
events { }
stream {
    server {
        listen 127.0.0.1:1 ssl;
        ssl_certificate $C/front.crt;
        ssl_certificate_key $C/front.key;
        ssl_protocols TLSv9;
        return x;
    }
}
EOF
$t->conf_rejected(<<"EOF", 7, qr/"listen" directive has "ssl" with "udp"/, 'ssl on a UDP listener');
events { }
stream {
    server {
        listen 127.0.0.1:1 udp ssl;
        return x;
    }
}
EOF
$t->conf_rejected(<<"EOF", 9, qr/no "proxy_ssl_trusted_certificate" for "proxy_ssl_verify"/, 'proxy_ssl_verify without trusted CAs');
events { }
stream {
    server {
        listen 127.0.0.1:1;
        proxy_pass 127.0.0.1:2;
        proxy_ssl on;
        proxy_ssl_verify on;
    }
}
EOF
$t->conf_rejected(<<"EOF", 11, qr/cannot load certificate key "\Q$C\E\/none\.key"/, 'a missing proxy_ssl_certificate_key');
events { }
stream {
    proxy_ssl on;
    server {
        listen 127.0.0.1:1;
        proxy_pass 127.0.0.1:2;
        proxy_ssl_certificate $C/proxy.crt;
        proxy_ssl_certificate_key $C/none.key;
    }
}
EOF
$t->conf_rejected(<<"EOF", 10, qr/invalid "proxy_ssl_ciphers" "NOSUCHCIPHER"/, 'bad proxy_ssl_ciphers');
events { }
stream {
    server {
        listen 127.0.0.1:1;
        proxy_pass 127.0.0.1:2;
        proxy_ssl on;
        proxy_ssl_ciphers NOSUCHCIPHER;
        proxy_ssl_protocols TLSv1.2;
    }
}
EOF
$t->conf_rejected(<<"EOF", 9, qr/cannot load trusted certificate "\Q$C\E\/none\.crt"/, 'a missing proxy_ssl_trusted_certificate');
events { }
stream {
    server {
        listen 127.0.0.1:1;
        proxy_pass 127.0.0.1:2;
        proxy_ssl on;
        proxy_ssl_trusted_certificate $C/none.crt;
    }
}
EOF

# ---- backends -----------------------------------------------------------------

sub pattern {
    my ($len, $seed) = @_;
    my $block = join '', map { chr(($_ * 37 + $seed) & 255) } 0 .. 65535;
    return substr($block x (int($len / 65536) + 1), 0, $len);
}

sub writeall {
    my ($c, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($c, $data, 65536, $off) // return;
        $off += $n;
    }
    return 1;
}

# A backend on port that runs code in a child for each connection; with
# tls => {...}, IO::Socket::SSL server options (a context made here, so
# that children share its ticket keys: sessions resume across them); with
# pp, a PROXY header line is read first and given to code.
sub backend {
    my ($port, $code, %o) = @_;
    my $ctx;
    if ($o{tls}) {
        $ctx = IO::Socket::SSL::SSL_Context->new(SSL_server => 1,
            %{ $o{tls} }) or die "context: $IO::Socket::SSL::SSL_ERROR";
    }
    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$port",
        Listen => 32, ReuseAddr => 1) or die "listen $port: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $SIG{ALRM} = 'DEFAULT';
        while (my $c = $l->accept) {
            my $k = fork // die;
            if (!$k) {
                my $pp = '';
                if ($o{pp}) { # the PROXY header comes before TLS
                    while (sysread($c, my $ch, 1)) {
                        $pp .= $ch;
                        last if $ch eq "\n";
                    }
                }
                if ($ctx && !IO::Socket::SSL->start_SSL($c, SSL_server => 1,
                        SSL_reuse_ctx => $ctx, Timeout => 10))
                {
                    POSIX::_exit(0);
                }
                $code->($c, $pp);
                POSIX::_exit(0);
            }
            close $c;
        }
        POSIX::_exit(0);
    }
    close $l;
    push @kids, $pid;
}

my $echo = sub {
    my $c = shift;
    while (sysread($c, my $b, 65536)) { writeall($c, $b) or last }
};
# says what the TLS connection looks like, then echoes
my $info = sub {
    my $c = shift;
    my $cert = $c->peer_certificate('cn') // '';
    writeall($c, sprintf "sni=%s client=%s reused=%d\n",
        $c->get_servername // '', $cert, $c->get_session_reused ? 1 : 0);
    $echo->($c);
};
my $DL = pattern(20 * 1024 * 1024, 5);
my $download = sub { my $c = shift; writeall($c, $DL); close $c };
# counts and hashes what it got until the end, into sink.out
my $sink = sub {
    my $c = shift;
    my $sha = Digest::SHA->new(256);
    my $n = 0;
    while (my $r = sysread($c, my $b, 65536)) { $sha->add($b); $n += $r }
    open my $f, '>>', "$P/sink.out" or return;
    print $f "$n " . $sha->hexdigest . "\n";
    close $f;
};

my %u = map { $_ => $t->port }
  qw(echo dl sink tls_info tls_info2 rogue_info mtls_info pp_info s_sni
  s_mtls);
my %tls = (SSL_cert_file => "$C/backend.crt", SSL_key_file => "$C/backend.key");
backend($u{echo}, $echo);
backend($u{dl}, $download);
backend($u{sink}, $sink);
backend($u{tls_info}, $info, tls => \%tls);
backend($u{tls_info2}, $info, tls => \%tls);
backend($u{pp_info}, sub { writeall($_[0], "proxy=$_[1]"); $echo->($_[0]) },
    tls => \%tls, pp => 1);
backend($u{rogue_info}, $info,
    tls => { SSL_cert_file => "$C/rogue.crt", SSL_key_file => "$C/rogue.key" });
backend($u{mtls_info}, $info, tls => { %tls, SSL_ca_file => "$C/ca.crt",
    SSL_verify_mode => 0x03 });

# openssl s_server on port with args; its stdin stays open (a pipe of
# ours), its output goes to NAME.out.
my %s_server_in;
sub s_server {
    my ($name, $port, @args) = @_;
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $w;
        open STDIN,  '<&', $r or POSIX::_exit(126);
        open STDOUT, '>', "$P/$name.out" or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
        { no warnings 'exec';
          exec 'openssl', 's_server', '-accept', "127.0.0.1:$port",
            '-cert', "$C/backend.crt", '-key', "$C/backend.key", @args; }
        POSIX::_exit(127);
    }
    close $r;
    $s_server_in{$name} = $w;
    push @kids, $pid;
}
sub s_server_out {
    open my $f, '<', "$P/$_[0].out" or return '';
    local $/;
    return <$f> // '';
}
# SNI must be backend.test: another name is a fatal alert
s_server('s_sni', $u{s_sni}, '-servername', 'backend.test',
    '-servername_fatal', '-cert2', "$C/backend.crt", '-key2',
    "$C/backend.key");
s_server('s_mtls', $u{s_mtls}, '-Verify', '1', '-CAfile', "$C/ca.crt");

# ---- wmproxy ------------------------------------------------------------------

my %p = map { $_ => $t->port } qw(vars tls12 dual sets mtls mtls_opt hs echo dl
  sink sni sni_off sni_bad s_mtls verify wrong_ca only_rogue mismatch
  reuse noreuse chain_in chain_mid pp_tls);
my $vars = 'return "$ssl_protocol|$ssl_cipher|$ssl_server_name|'
  . '$ssl_session_reused|$ssl_client_verify\n";';
my $front = "ssl_certificate $C/front.crt; ssl_certificate_key $C/front.key;";
my $trust = "proxy_ssl_verify on; proxy_ssl_trusted_certificate $C/ca.crt;";

$t->write_conf(<<"EOF");
events { }
stream {
    log_format tls '\$remote_addr \$status \$ssl_protocol \$ssl_server_name '
                   '\$bytes_received \$bytes_sent';
    access_log $P/logs/stream.log tls;
    ssl_session_cache builtin:100;

    upstream two {
        server 127.0.0.1:$u{rogue_info};
        server 127.0.0.1:$u{tls_info};
    }

    server { listen 127.0.0.1:$p{vars} ssl; $front $vars }
    server {
        listen 127.0.0.1:$p{tls12} ssl;
        $front
        ssl_protocols TLSv1.2;
        ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256;
        $vars
    }
    server {
        listen 127.0.0.1:$p{dual} ssl;
        $front
        ssl_certificate $C/front-ec.crt;
        ssl_certificate_key $C/front-ec.key;
        $vars
    }
    server {
        listen 127.0.0.1:$p{sets} ssl;
        $front
        ssl_certificate $C/front-ec.crt;
        ssl_certificate_key $C/front-ec.key;
        ssl_certificate $C/other.crt;
        ssl_certificate_key $C/other.key;
        $vars
    }
    server {
        listen 127.0.0.1:$p{mtls} ssl;
        $front
        ssl_client_certificate $C/ca.crt;
        ssl_verify_client on;
        $vars
    }
    server {
        listen 127.0.0.1:$p{mtls_opt} ssl;
        $front
        ssl_client_certificate $C/ca.crt;
        ssl_verify_client optional;
        $vars
    }
    server {
        listen 127.0.0.1:$p{hs} ssl;
        $front
        ssl_handshake_timeout 1s;
        $vars
    }
    server { listen 127.0.0.1:$p{echo} ssl; $front proxy_pass 127.0.0.1:$u{echo}; }
    server { listen 127.0.0.1:$p{dl} ssl; $front proxy_pass 127.0.0.1:$u{dl}; }
    server { listen 127.0.0.1:$p{sink} ssl; $front proxy_pass 127.0.0.1:$u{sink}; }

    server {
        listen 127.0.0.1:$p{sni};
        proxy_pass 127.0.0.1:$u{s_sni};
        proxy_ssl on;
        proxy_ssl_name backend.test;
        proxy_ssl_server_name on;
        $trust
    }
    server {
        listen 127.0.0.1:$p{sni_off};
        proxy_pass 127.0.0.1:$u{tls_info};
        proxy_ssl on;
        proxy_ssl_name backend.test;
        $trust
    }
    server {
        listen 127.0.0.1:$p{sni_bad};
        proxy_pass 127.0.0.1:$u{s_sni};
        proxy_ssl on;
        proxy_ssl_name other.test;
        proxy_ssl_server_name on;
    }
    server {
        listen 127.0.0.1:$p{s_mtls};
        proxy_pass 127.0.0.1:$u{s_mtls};
        proxy_ssl on;
        proxy_ssl_certificate $C/proxy.crt;
        proxy_ssl_certificate_key $C/proxy.key;
    }
    server {
        listen 127.0.0.1:$p{verify};
        proxy_pass 127.0.0.1:$u{mtls_info};
        proxy_ssl on;
        proxy_ssl_name backend.test;
        proxy_ssl_server_name on;
        proxy_ssl_certificate $C/proxy.crt;
        proxy_ssl_certificate_key $C/proxy.key;
        $trust
    }
    server {
        listen 127.0.0.1:$p{wrong_ca};
        proxy_pass two;
        proxy_ssl on;
        proxy_ssl_name backend.test;
        $trust
    }
    server {
        listen 127.0.0.1:$p{only_rogue};
        proxy_pass 127.0.0.1:$u{rogue_info};
        proxy_ssl on;
        proxy_ssl_name backend.test;
        $trust
    }
    server {
        listen 127.0.0.1:$p{mismatch};
        proxy_pass 127.0.0.1:$u{tls_info2};
        proxy_ssl on;
        proxy_ssl_name wrong.test;
        $trust
    }
    server {
        listen 127.0.0.1:$p{reuse};
        proxy_pass 127.0.0.1:$u{tls_info};
        proxy_ssl on;
    }
    server {
        listen 127.0.0.1:$p{noreuse};
        proxy_pass 127.0.0.1:$u{tls_info};
        proxy_ssl on;
        proxy_ssl_session_reuse off;
    }

    # plain -> (proxy_ssl) -> chain_mid (listen ssl) -> echo
    server {
        listen 127.0.0.1:$p{chain_in};
        proxy_pass 127.0.0.1:$p{chain_mid};
        proxy_ssl on;
        proxy_ssl_name front.test;
        proxy_ssl_server_name on;
        $trust
    }
    server {
        listen 127.0.0.1:$p{chain_mid} ssl;
        $front
        proxy_pass 127.0.0.1:$u{echo};
    }
    # TLS client -> PROXY header -> TLS echo
    server {
        listen 127.0.0.1:$p{pp_tls} ssl;
        $front
        proxy_pass 127.0.0.1:$u{pp_info};
        proxy_ssl on;
        proxy_protocol on;
    }
}
EOF
$t->start(ports => [ @p{qw(vars tls12 dual mtls hs)} ]) or BAIL_OUT('no start');

# ---- termination ----------------------------------------------------------------

# openssl s_client to port: returns run_bounded's result with line (the
# first line the server sent after the handshake), cn (of the leaf), and
# state (New or Reused).
sub sclient {
    my ($port, @args) = @_;
    my $r = run_bounded('', 15, 'openssl', 's_client', '-connect',
        "127.0.0.1:$port", '-CAfile', "$C/ca.crt", '-ign_eof', @args);
    ($r->{cn}) = $r->{out} =~ /^subject=.*?CN ?= ?([^,\n]+)/m;
    ($r->{state}) = $r->{out} =~ /^(New|Reused), /m;
    # (the answer may follow s_client's hex dump of a ticket on its line)
    ($r->{line}) = $r->{out} =~ /(TLSv1\.\d\|[^\n]*)/;
    $r->{$_} //= '' for qw(cn state line);
    return $r;
}

{
    my $r = sclient($p{vars}, '-servername', 'front.test');
    is($r->{cn}, 'front.test', 'termination: the certificate of ssl_certificate');
    like($r->{out}, qr/Verify return code: 0 \(ok\)/,
        'termination: the chain verifies against the CA');
    is($r->{line}, 'TLSv1.3|TLS_AES_256_GCM_SHA384|front.test|.|NONE',
        'termination: $ssl_protocol, $ssl_cipher, $ssl_server_name, '
          . '$ssl_session_reused, $ssl_client_verify');
    $r = sclient($p{vars}, '-noservername');
    is($r->{line}, 'TLSv1.3|TLS_AES_256_GCM_SHA384||.|NONE',
        'termination: no SNI, empty $ssl_server_name');
}
{
    my $r = sclient($p{tls12}, '-servername', 'x.test');
    is($r->{line}, 'TLSv1.2|ECDHE-RSA-AES128-GCM-SHA256|x.test|.|NONE',
        'ssl_protocols TLSv1.2 and ssl_ciphers: what was negotiated');
    $r = sclient($p{tls12}, '-tls1_3');
    is($r->{line}, '', 'ssl_protocols TLSv1.2: a TLSv1.3-only client fails');
}
{
    my $r = sclient($p{dual}, '-sigalgs', 'ECDSA+SHA256');
    is($r->{cn}, 'front-ec.test', 'RSA and ECDSA: an ECDSA client gets the ECDSA certificate');
    $r = sclient($p{dual}, '-sigalgs', 'RSA-PSS+SHA256:RSA+SHA256');
    is($r->{cn}, 'front.test', 'RSA and ECDSA: an RSA client gets the RSA certificate');
}
{
    # [front RSA, front-ec ECDSA] [other RSA]: SNI picks the set
    my $r = sclient($p{sets}, '-servername', 'other.test');
    is($r->{cn}, 'other.test', 'SNI other.test: the certificate of the second set');
    like($r->{line}, qr/^TLSv1\.3\|[^|]+\|other\.test\|/, '  $ssl_server_name other.test');
    like($r->{out}, qr/Verify return code: 0 \(ok\)/, '  and it verifies');
    my @rsa = ('-sigalgs', 'RSA-PSS+SHA256:RSA+SHA256');
    is(sclient($p{sets}, '-servername', 'front.test', @rsa)->{cn},
        'front.test', 'SNI front.test, an RSA client: the first set');
    is(sclient($p{sets}, '-servername', 'front.test', '-sigalgs',
        'ECDSA+SHA256')->{cn}, 'front-ec.test',
        'SNI front.test, an ECDSA client: the ECDSA certificate of the first set');
    is(sclient($p{sets}, '-noservername', @rsa)->{cn}, 'front.test',
        'no SNI: the first set');
    is(sclient($p{sets}, '-servername', 'nobody.test', @rsa)->{cn},
        'front.test', 'an unknown name: the first set');
}
{
    my $sess = "$P/sess.pem";
    my $r = sclient($p{vars}, '-tls1_2', '-sess_out', $sess);
    is($r->{state}, 'New', 'session cache: a first TLSv1.2 session is new');
    $r = sclient($p{vars}, '-tls1_2', '-sess_in', $sess);
    is($r->{state}, 'Reused', 'session cache: the session is resumed');
    like($r->{line}, qr/^TLSv1\.2\|[^|]+\|\|r\|NONE$/,
        'session cache: $ssl_session_reused is "r"');
}
{
    my $off = $t->log_size;
    my $r = sclient($p{mtls}, '-cert', "$C/client.crt", '-key', "$C/client.key");
    is($r->{line}, 'TLSv1.3|TLS_AES_256_GCM_SHA384||.|SUCCESS',
        'ssl_verify_client on: a certificate of the CA is accepted');
    $r = sclient($p{mtls});
    is($r->{line}, '', 'ssl_verify_client on: no certificate, no answer');
    ok($t->wait_log(qr/\[info\] .*client sent no required SSL certificate, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$p{mtls}/, from => $off),
        'ssl_verify_client on: no certificate is logged');
    $r = sclient($p{mtls}, '-cert', "$C/client2.crt", '-key', "$C/client2.key");
    is($r->{line}, '', 'ssl_verify_client on: a certificate of another CA, no answer');
    ok($t->wait_log(qr/client SSL certificate verify error: \(\d+:[^)]+\), client: 127\.0\.0\.1/, from => $off),
        'ssl_verify_client on: the verify error is logged');
    $r = sclient($p{mtls_opt});
    is($r->{line}, 'TLSv1.3|TLS_AES_256_GCM_SHA384||.|NONE',
        'ssl_verify_client optional: no certificate is served');
}
{
    my $off = $t->log_size;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p{hs}",
        Timeout => 5) or die "connect: $!";
    my $start = time;
    my $got = IO::Select->new($s)->can_read(20) ? sysread($s, my $b, 10) : undef;
    is($got, 0, 'ssl_handshake_timeout: a silent client is closed');
    cmp_ok(time - $start, '<', 15, 'ssl_handshake_timeout: within its time');
    ok($t->wait_log(qr/\[info\] .*client timed out in SSL handshake.* while SSL handshaking, client: 127\.0\.0\.1/, from => $off),
        'ssl_handshake_timeout: logged');

    $off = $t->log_size;
    is($t->talk($p{vars}, "GET / HTTP/1.0\r\n\r\n"), '',
        'plain text on a TLS port: closed without an answer');
    ok($t->wait_log(qr/\[info\] .*SSL handshake with client failed: .*(?:wrong version number|http request)/, from => $off),
        'plain text on a TLS port: the handshake failure is logged');
    is(sclient($p{vars})->{line}, 'TLSv1.3|TLS_AES_256_GCM_SHA384||.|NONE',
        'still serving TLS');
}

sub tls_client {
    my ($port, %o) = @_;
    return IO::Socket::SSL->new(PeerAddr => "127.0.0.1:$port",
        SSL_ca_file => "$C/ca.crt", SSL_hostname => 'front.test',
        SSL_verifycn_name => 'front.test', SSL_verifycn_scheme => 'default',
        Timeout => 10, %o);
}

{
    my $c = tls_client($p{echo}) or die "tls: $IO::Socket::SSL::SSL_ERROR";
    print $c "ping over TLS\n";
    my $line = <$c>;
    is($line, "ping over TLS\n", 'termination to a plain echo: the bytes come back');
    close $c;

    # 20 MB down: the backend's bytes, then its close, reach the client
    $c = tls_client($p{dl}) or die "tls: $IO::Socket::SSL::SSL_ERROR";
    my $sha = Digest::SHA->new(256);
    my $n = 0;
    while (my $r = sysread($c, my $b, 65536)) { $sha->add($b); $n += $r }
    is($n, length $DL, 'termination: 20 MB download, every byte');
    is($sha->hexdigest, sha256_hex($DL), 'termination: 20 MB download, sha256');
    # SSL_RECEIVED_SHUTDOWN (2): the upstream's FIN became a close_notify
    is(Net::SSLeay::get_shutdown($c->_get_ssl_object) & 2, 2,
        'termination: the upstream FIN reaches the client as close_notify');
    close $c;

    # 20 MB up, then close_notify: the backend gets them all, then EOF
    my $up = pattern(20 * 1024 * 1024, 9);
    $c = tls_client($p{sink}) or die "tls: $IO::Socket::SSL::SSL_ERROR";
    writeall($c, $up);
    # close_notify, then read to the end: unread session tickets would
    # turn the close into a reset that drops the last bytes in flight
    $c->stop_SSL(SSL_fast_shutdown => 1);
    shutdown($c, 1);
    1 while sysread($c, my $junk, 65536);
    close $c;
    my $line2 = '';
    ok($t->wait_until(sub {
                open my $f, '<', "$P/sink.out" or return 0;
                ($line2) = grep { !/^0 / } <$f>;
                defined $line2;
            }, 30), 'termination: 20 MB upload, the backend saw its end');
    is($line2 // '', length($up) . ' ' . sha256_hex($up) . "\n",
        'termination: 20 MB upload, every byte (sha256)');
}

# ---- origination ------------------------------------------------------------------

# Connects to port, sends send (no half-close), returns what came until
# the close or timeout.
sub plain {
    my ($port, $send, $timeout) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Timeout => 5) or return undef;
    syswrite($s, $send) if defined $send;
    my ($buf, $sel, $end) = ('', IO::Select->new($s), time + ($timeout // 5));
    while ((my $left = $end - time) > 0) {
        $sel->can_read($left) or last;
        sysread($s, $buf, 65536, length $buf) or last;
    }
    return $buf;
}

{
    plain($p{sni}, "hello through SNI\n", 2);
    ok($t->wait_until(sub { s_server_out('s_sni') =~ /hello through SNI/ }, 10),
        'proxy_ssl to openssl s_server: the bytes arrive decrypted');
    like(s_server_out('s_sni'), qr/^Hostname in TLS extension: "backend\.test"$/m,
        'proxy_ssl_server_name on: s_server saw the SNI of proxy_ssl_name');

    my $off = $t->log_size;
    is(plain($p{sni_bad}, "x\n", 3), '',
        'a name s_server refuses (fatal unrecognized_name): closed');
    ok($t->wait_log(qr/\[error\] .*SSL handshake with upstream failed: .*unrecognized name.* while SSL handshaking to upstream, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$p{sni_bad}, upstream: "127\.0\.0\.1:$u{s_sni}"/, from => $off),
        'the failed upstream handshake is logged with its context');

    is(plain($p{sni_off}, "echo me\n", 2), "sni= client= reused=0\necho me\n",
        'proxy_ssl_server_name off (the default): no SNI');

    plain($p{s_mtls}, "with a client certificate\n", 2);
    ok($t->wait_until(sub { s_server_out('s_mtls') =~ /with a client certificate/ }, 10),
        'proxy_ssl_certificate: s_server (-Verify) took the connection');
    like(s_server_out('s_mtls'), qr/^depth=0 CN = proxy client\n(?:.*\n)*?verify return:1$/m,
        'proxy_ssl_certificate: s_server verified the client certificate');
}
{
    is(plain($p{verify}, "verified\n", 2),
        "sni=backend.test client=proxy client reused=0\nverified\n",
        'proxy_ssl_verify with the right CA, SNI and a client certificate');

    my $off = $t->log_size;
    my @got = map { plain($p{wrong_ca}, "n$_\n", 2) } 1 .. 2;
    s/reused=\d/reused=?/ for @got;
    is_deeply(\@got, [ "sni= client= reused=?\nn1\n", "sni= client= reused=?\nn2\n" ],
        'proxy_ssl_verify: a server of the wrong CA is passed over for the next one');
    ok($t->wait_log(qr/\[error\] .*upstream SSL certificate verify error: \(\d+:[^)]+\) while SSL handshaking to upstream, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$p{wrong_ca}, upstream: "127\.0\.0\.1:$u{rogue_info}"/, from => $off),
        'proxy_ssl_verify: the verify error is logged');

    $off = $t->log_size;
    is(plain($p{only_rogue}, "x\n", 3), '', 'proxy_ssl_verify: no trusted server, closed');
    ok($t->wait_log(qr/upstream SSL certificate verify error: \((?:20:unable to get local issuer certificate|21:unable to verify the first certificate)\)/, from => $off),
        'proxy_ssl_verify: the issuer is unknown');
    ok($t->wait_until(sub { $t->log_text('logs/stream.log') =~ /^127\.0\.0\.1 502 /m }, 5),
        'proxy_ssl_verify: the session ends with 502');

    $off = $t->log_size;
    is(plain($p{mismatch}, "x\n", 3), '', 'proxy_ssl_verify: a name mismatch, closed');
    ok($t->wait_log(qr/upstream SSL certificate verify error: \(62:hostname mismatch\)/, from => $off),
        'proxy_ssl_verify: the mismatch is logged');
}
{
    my @r = map { plain($p{reuse}, "r\n", 2) } 1 .. 3;
    is_deeply([ map { (/reused=(\d)/)[0] // '' } @r ], [ 0, 1, 1 ],
        'proxy_ssl_session_reuse on: the next sessions resume');
    @r = map { plain($p{noreuse}, "r\n", 2) } 1 .. 2;
    is_deeply([ map { (/reused=(\d)/)[0] // '' } @r ], [ 0, 0 ],
        'proxy_ssl_session_reuse off: every session is new');
}
{
    my $c = tls_client($p{pp_tls}) or die "tls: $IO::Socket::SSL::SSL_ERROR";
    my $line = <$c>;
    like($line, qr/^proxy=PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ $p{pp_tls}\r\n\z/,
        'proxy_protocol with proxy_ssl: the PROXY header in plain, then TLS');
    print $c "after\n";
    is(scalar <$c>, "after\n", 'TLS on both sides: bytes both ways');
    close $c;
}

# ---- both: 20 MB each way at once ------------------------------------------------

{
    my $up = pattern(20 * 1024 * 1024, 3);
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p{chain_in}",
        Timeout => 5) or die "connect: $!";
    # a child writes while this process reads: both ways at once
    my $writer = fork // die "fork: $!";
    if (!$writer) { writeall($c, $up); POSIX::_exit(0) }
    push @kids, $writer;
    my ($got, $sel, $end) = ('', IO::Select->new($c), time + 120);
    while (length($got) < length($up) && $sel->can_read($end - time)) {
        sysread($c, $got, 262144, length $got) or last;
    }
    is(length $got, length $up,
        'plain -> proxy_ssl -> listen ssl -> echo: 20 MB back, every byte');
    ok(sha256_hex($got) eq sha256_hex($up),
        'plain -> proxy_ssl -> listen ssl -> echo: the same bytes (sha256)');
    close $c;
}

ok($t->wait_until(sub { $t->log_text('logs/stream.log')
              =~ /^127\.0\.0\.1 200 TLSv1\.3 front\.test 20971520 20971520$/m }, 10),
    'the session log: $ssl_protocol and $ssl_server_name of the TLS hop, '
      . 'plaintext byte counts');
unlike($t->log_text, qr/\[(?:alert|crit|emerg)\]/, 'no alert in the error log');

$t->done;
