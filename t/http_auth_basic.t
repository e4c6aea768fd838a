#!/usr/bin/perl
# auth_basic and auth_basic_user_file as an nginx user sees them: a user
# file made by `openssl passwd` (apr1, $1$, $5$, $6$, {PLAIN}, {SHA}), the
# right password (curl -u), a wrong one, an unknown user, no header, bad
# base64, no ':' in the credentials, auth_basic off below, a realm with a
# variable, $remote_user, a NUL inside a password, a missing user file (403, logged as nginx), an
# unreadable one (500), allow/deny before it, satisfy any and all, an
# edit of the file that applies at once. Each answer is asserted, the log lines too, and
# compared with Debian's nginx on the same http {} block when installed.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use MIME::Base64 qw(encode_base64);
use Test::More;
use WmTest;
use WmHttpClient;
use WmNginx;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my ($wport, $nport) = ($t->port, $t->port);

sub passwd {
    my @a = @_;
    open my $fh, '-|', 'openssl', 'passwd', @a or die "openssl: $!";
    my $h = <$fh>;
    close $fh;
    chomp $h;
    die "openssl passwd @a failed" unless $h =~ /^\$/;
    return $h;
}

my $sha = encode_base64(pack('H*', do {
    open my $fh, '-|', 'sh', '-c', "printf %s pw6 | openssl dgst -sha1 -r"
      or die; my $l = <$fh>; close $fh; (split ' ', $l)[0] }), '');
my %users = (
    apr    => passwd('-apr1', 'pw1'),
    md5    => passwd('-1', 'pw2'),
    sha256 => passwd('-5', 'pw3'),
    sha512 => passwd('-6', 'pw4'),
    plain  => '{PLAIN}pw5',
    sha    => "{SHA}$sha",
);
$t->write_file('users', "# made by the test\n"
      . join('', map { "$_:$users{$_}\n" } sort keys %users)
      . "colon:{PLAIN}a:b:comment\n");
$t->write_file('unreadable', "x:{PLAIN}x\n");
chmod 0, "$P/unreadable";
$t->write_file('html/a.txt', "secret\n");
$t->write_file('html/open/a.txt', "open\n");

sub http_body {
    my $port = shift;
    return <<"EOF";
    default_type text/plain;
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $P/html;
        auth_basic "the realm";
        auth_basic_user_file $P/users;

        location /open/ { auth_basic off; }
        location /ru { return 200 "user=[\$remote_user]\\n"; }
        # (return would answer in the rewrite phase, before access.)
        location /var/ { alias $P/html/; auth_basic "realm of \$host"; }
        location /miss/ { alias $P/html/; auth_basic_user_file $P/nope; }
        location /dir/ { alias $P/html/; auth_basic_user_file $P/html; }
        location /deny/ { alias $P/html/; deny all; }
        location /offvar { set \$r off; auth_basic \$r; return 200 open; }
        location /any/ { alias $P/html/; satisfy any; allow 127.0.0.1;
                         deny all; }
        location /anydeny/ { alias $P/html/; satisfy any; deny 127.0.0.1; }
        location /anyonlydeny/ { alias $P/html/; satisfy any; deny all;
                                 auth_basic off; }
        location /anynone/ { alias $P/html/; satisfy any; auth_basic off; }
        location /all/ { alias $P/html/; satisfy all; allow 127.0.0.1; }
    }
EOF
}

my ($ng, $nginx_up, $wm_up) =
  WmNginx::start_pair($t, \&http_body, $wport, $nport);
$wm_up or do { $t->done; exit };

sub basic { 'Authorization: Basic ' . encode_base64($_[0], '') }

my @F = ('content-type', 'www-authenticate');

# [ name, request line, [ headers ], status, body (undef: not checked) ]
my @req = (
    [ 'apr1', 'GET /a.txt', [ basic('apr:pw1') ], 200, "secret\n" ],
    [ '$1$ (crypt)', 'GET /a.txt', [ basic('md5:pw2') ], 200, "secret\n" ],
    [ '$5$ (crypt)', 'GET /a.txt', [ basic('sha256:pw3') ], 200, "secret\n" ],
    [ '$6$ (crypt)', 'GET /a.txt', [ basic('sha512:pw4') ], 200, "secret\n" ],
    [ '{PLAIN}', 'GET /a.txt', [ basic('plain:pw5') ], 200, "secret\n" ],
    [ '{SHA}', 'GET /a.txt', [ basic('sha:pw6') ], 200, "secret\n" ],
    [ 'a comment field', 'GET /a.txt', [ basic('colon:a') ], 200, "secret\n" ],
    [ 'a wrong password', 'GET /a.txt', [ basic('apr:pw2') ], 401 ],
    [ 'a wrong crypt password', 'GET /a.txt', [ basic('sha512:pw1') ], 401 ],
    [ 'an unknown user', 'GET /a.txt', [ basic('nobody:pw1') ], 401 ],
    [ 'no Authorization', 'GET /a.txt', [], 401 ],
    [ 'bad base64', 'GET /a.txt', [ 'Authorization: Basic %%%%' ], 401 ],
    [ 'no colon', 'GET /a.txt', [ basic('apr') ], 401 ],
    [ 'another scheme', 'GET /a.txt', [ 'Authorization: Bearer abc' ], 401 ],
    [ 'auth_basic off below', 'GET /open/a.txt', [], 200, "open\n" ],
    [ '$remote_user', 'GET /ru', [ basic('plain:pw5') ], 200, "user=[plain]\n" ],
    [ 'a realm with a variable', 'GET /var/a.txt', [], 401 ],
    [ 'auth_basic from a variable that says off', 'GET /offvar', [], 200,
        'open' ],
    [ 'a missing user file', 'GET /miss/a.txt', [ basic('plain:pw5') ], 403 ],
    [ 'a directory as the user file', 'GET /dir/a.txt',
        [ basic('plain:pw5') ], 500 ],
    [ 'deny comes first', 'GET /deny/a.txt', [ basic('plain:pw5') ], 403 ],
    [ 'satisfy any: an allow lets in without a password', 'GET /any/a.txt',
        [], 200, "secret\n" ],
    [ 'satisfy any: a deny, then the right password', 'GET /anydeny/a.txt',
        [ basic('plain:pw5') ], 200, "secret\n" ],
    [ 'satisfy any: a deny and no password', 'GET /anydeny/a.txt', [], 401 ],
    [ 'satisfy any: a deny and a wrong password', 'GET /anydeny/a.txt',
        [ basic('plain:nope') ], 401 ],
    [ 'satisfy any: a deny alone', 'GET /anyonlydeny/a.txt', [], 403 ],
    [ 'satisfy any: no check applies', 'GET /anynone/a.txt', [], 200,
        "secret\n" ],
    [ 'satisfy all: an allow, then no password', 'GET /all/a.txt', [], 401 ],
    [ 'satisfy all: an allow and the right password', 'GET /all/a.txt',
        [ basic('plain:pw5') ], 200, "secret\n" ],
);

for my $q (@req) {
    my ($name, $line, $h, $status, $body) = @$q;
    my @h = @$h;
    my $w = WmNginx::fetch($wport, "$line HTTP/1.1", @h);
    is($w->{status}, $status, "$name: $status");
    is($w->{body}, $body, "$name: body") if defined $body;
    if ($status == 401) {
        my $realm = $line eq 'GET /var/a.txt' ? "realm of localhost" : 'the realm';
        is($w->{h}{'www-authenticate'}, qq{Basic realm="$realm"},
            "$name: WWW-Authenticate");
    }
    next unless $nginx_up;
    is_deeply(WmNginx::comparable($w, $wport, @F),
        WmNginx::comparable(WmNginx::fetch($nport, "$line HTTP/1.1", @h),
            $nport, @F),
        "$name: as nginx");
}

# A password with a NUL byte after the right one: crypt() would stop at
# the NUL, the check does not (nginx lets these in; see the man page).
for my $c ([ '$1$', 'md5:pw2' ], [ '$6$', 'sha512:pw4' ],
    [ '{PLAIN}', 'plain:pw5' ], [ 'apr1', 'apr:pw1' ])
{
    my ($name, $cred) = @$c;
    is(WmNginx::fetch($wport, 'GET /a.txt HTTP/1.1', basic("$cred\0x"))
          ->{status}, 401, "$name: the password, a NUL and more: 401");
}
# A password longer than crypt() takes (512 bytes) is a mismatch, not a
# 500 for a hash crypt() would not know.
is(WmNginx::fetch($wport, 'GET /a.txt HTTP/1.1', basic('md5:' . 'x' x 600))
      ->{status}, 401, '$1$: a 600-byte password: 401');
like($t->log_text, qr/\[error\] .*user "sha512": password mismatch, client: /,
    'a password with a NUL is a mismatch in the log');

# The log lines, as nginx writes them.
my $log = $t->log_text;
like($log, qr/\[error\] .*user "apr": password mismatch, client: /,
    'a wrong password is logged');
like($log, qr/\[error\] .*user "nobody" was not found in "\Q$P\E\/users"/,
    'an unknown user is logged');
like($log, qr/\[info\] .*no user\/password was provided for basic authentication/,
    'no credentials: logged at info');
like($log, qr/\[error\] .*open\(\) "\Q$P\E\/nope" failed \(2: No such file or directory\)/,
    'a missing user file is logged');

like($log, qr/\[crit\] .*pread\(\) "\Q$P\E\/html" failed \(21: Is a directory\)/,
    'a directory as the user file is logged at crit');
like($log, qr/\[error\] .*access forbidden by rule, client: .*request: "GET \/anyonlydeny\/a\.txt /,
    'satisfy any: a 403 at the end is logged');
unlike($log, qr/access forbidden by rule, client: .*request: "GET \/any(?:deny)?\//,
    'satisfy any: a deny that another check overrode is not');

# curl -u, as a user would try it.
SKIP: {
    skip 'no curl', 2 unless -x '/usr/bin/curl';
    my $out = `curl -s -u apr:pw1 http://127.0.0.1:$wport/a.txt`;
    is($out, "secret\n", 'curl -u with the right password');
    $out = `curl -s -o /dev/null -w '%{http_code}' -u apr:nope http://127.0.0.1:$wport/a.txt`;
    is($out, '401', 'curl -u with a wrong password');
}

# An edit of the user file applies at the next request.
$t->write_file('users', "plain:{PLAIN}changed\n");
is(WmNginx::fetch($wport, 'GET /a.txt HTTP/1.1', basic('plain:pw5'))->{status},
    401, 'the old password no longer works once the file changed');
is(WmNginx::fetch($wport, 'GET /a.txt HTTP/1.1', basic('plain:changed'))
      ->{status}, 200, 'the new one does');

# A user file the workers cannot read: 500, logged at crit.
SKIP: {
    skip 'running as root: every file is readable', 2 if $> == 0;
    $t->write_file('users', "plain:{PLAIN}pw5\n");
    rename "$P/unreadable", "$P/users" or die "rename: $!";
    is(WmNginx::fetch($wport, 'GET /a.txt HTTP/1.1', basic('plain:pw5'))
          ->{status}, 500, 'an unreadable user file: 500');
    ok($t->wait_log(qr/\[crit\] .*open\(\) "\Q$P\E\/users" failed \(13: Permission denied\)/),
        'an unreadable user file is logged at crit');
}

is(WmNginx::fetch($wport, 'GET /open/a.txt HTTP/1.1')->{body}, "open\n",
    'still serving');

$t->conf_rejected("events { }\nhttp {\nauth_basic a b;\n}\n", 6,
    qr/"auth_basic" directive has invalid number/, 'auth_basic a b');
$t->conf_rejected("events { }\nhttp {\nsatisfy maybe;\n}\n", 6,
    qr/"satisfy" directive/, 'satisfy maybe');
$t->conf_rejected("events { }\nhttp {\nauth_basic_user_file;\n}\n", 6,
    qr/"auth_basic_user_file" directive has invalid number/,
    'auth_basic_user_file without a file');

$ng->stop if $ng;
$t->done;
