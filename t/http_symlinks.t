#!/usr/bin/perl
# disable_symlinks off | on | if_not_owner [from=part] as an nginx user
# sees it: files reached through a link to a file or to a directory, a
# link out of the document root, links followed with if_not_owner when
# their target has the link's owner (and refused when not: as root, the
# test gives a target to nobody), from=$document_root allowing a link in
# the root's own path, try_files skipping a refused link, an index file
# that is a link, precompressed siblings that are links; each answer
# (status, body) asserted, refusals logged at error with ELOOP, and
# compared with Debian's nginx on the same http {} block when installed.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use WmTest;
use WmHttpClient;
use WmNginx;

my $t = WmTest->new(timeout => 120);
my $P = $t->prefix;
my ($wport, $nport) = ($t->port, $t->port);
my $root = $> == 0;

$t->write_file('html/f.txt', "f\n");
$t->write_file('html/dir/g.txt', "g\n");
$t->write_file('html/idx/index.html', "index\n");
$t->write_file('html/gz/a.txt', "plain a\n");
$t->write_file('html/gz/real.gz', "not really gzip\n");
$t->write_file('html/nob.txt', "nobody's\n");
$t->write_file('secret.txt', "secret\n");
symlink('f.txt', "$P/html/flink") or die "symlink: $!";
symlink('dir', "$P/html/dlink") or die "symlink: $!";
symlink('../secret.txt', "$P/html/out") or die "symlink: $!";
symlink('nob.txt', "$P/html/nlink") or die "symlink: $!";
symlink('../f.txt', "$P/html/idx/index.htm") or die "symlink: $!";
symlink('real.gz', "$P/html/gz/a.txt.gz") or die "symlink: $!";
symlink('html', "$P/hlink") or die "symlink: $!";
chown 65534, 65534, "$P/html/nob.txt" if $root;

sub http_body {
    my $port = shift;
    return <<"EOF";
    default_type text/plain;
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $P/html;
        location /off/ { alias $P/html/; }
        location /on/ { alias $P/html/; disable_symlinks on; }
        location /owner/ { alias $P/html/; disable_symlinks if_not_owner; }
        location = /tf { disable_symlinks on; try_files /flink /f.txt =404; }
        location /ix/ { alias $P/html/idx/; disable_symlinks on;
                        index index.htm index.html; }
        location /gz/ { disable_symlinks on; gzip_static on; }
    }
    server {
        listen 127.0.0.1:$port;
        server_name from.test;
        root $P/hlink;
        disable_symlinks on from=\$document_root;
        location /nofrom/ { alias $P/hlink/; disable_symlinks on; }
    }
EOF
}

my ($ng, $nginx_up, $wm_up) =
  WmNginx::start_pair($t, \&http_body, $wport, $nport);
$wm_up or do { $t->done; exit };

# [ name, request line, [ headers ], status, body (undef: not checked) ]
my @req = (
    [ 'off: a link to a file', 'GET /off/flink', [], 200, "f\n" ],
    [ 'off: a link out of the root', 'GET /off/out', [], 200, "secret\n" ],
    [ 'on: a plain file', 'GET /on/f.txt', [], 200, "f\n" ],
    [ 'on: a file in a directory', 'GET /on/dir/g.txt', [], 200, "g\n" ],
    [ 'on: a link to a file', 'GET /on/flink', [], 403 ],
    [ 'on: a link to a directory on the way (not a directory)',
        'GET /on/dlink/g.txt', [], 404 ],
    [ 'on: a link out of the root', 'GET /on/out', [], 403 ],
    [ 'on: a missing file', 'GET /on/none', [], 404 ],
    [ 'if_not_owner: a link to a file of its owner', 'GET /owner/flink', [],
        200, "f\n" ],
    [ 'if_not_owner: a link to a directory of its owner',
        'GET /owner/dlink/g.txt', [], 200, "g\n" ],
    ($root ? ([ "if_not_owner: a link to another user's file",
        'GET /owner/nlink', [], 403 ]) : ()),
    [ 'try_files skips a refused link', 'GET /tf', [], 200, "f\n" ],
    [ 'an index file that is a link', 'GET /ix/', [], 403 ],
    [ 'gzip_static: a sibling that is a link', 'GET /gz/a.txt',
        [ 'Accept-Encoding: gzip' ], 200, "plain a\n" ],
    [ 'from=$document_root: a link in the root path', 'GET /f.txt',
        [ 'Host: from.test' ], 200, "f\n" ],
    [ 'from=$document_root: a link after it', 'GET /flink',
        [ 'Host: from.test' ], 403 ],
    [ 'without from=: a link in the root path', 'GET /nofrom/f.txt',
        [ 'Host: from.test' ], 404 ],
);

for my $q (@req) {
    my ($name, $line, $h, $status, $body) = @$q;
    my $w = WmNginx::fetch($wport, "$line HTTP/1.1", @$h);
    is($w->{status}, $status, "$name: $status");
    is($w->{body}, $body, "$name: body") if defined $body;
    next unless $nginx_up;
    is_deeply(WmNginx::comparable($w, $wport),
        WmNginx::comparable(WmNginx::fetch($nport, "$line HTTP/1.1", @$h),
            $nport),
        "$name: as nginx");
}

my $log = $t->log_text;
like($log, qr/\[error\] .*open\(\) "\Q$P\E\/html\/flink" failed \(40: Too many levels of symbolic links\), client: /,
    'a refused link is logged at error with ELOOP');
is(WmNginx::fetch($wport, 'GET /on/f.txt HTTP/1.1')->{status}, 200,
    'still serving');

$t->conf_rejected("events { }\nhttp {\ndisable_symlinks maybe;\n}\n", 6,
    qr/"disable_symlinks" directive has invalid value "maybe"/,
    'disable_symlinks maybe');
$t->conf_rejected("events { }\nhttp {\ndisable_symlinks on to=/x;\n}\n", 6,
    qr/"disable_symlinks" directive has invalid parameter "to=\/x"/,
    'disable_symlinks on to=/x');
$t->conf_rejected("events { }\nhttp {\ndisable_symlinks off from=/x;\n}\n", 6,
    qr/"disable_symlinks" directive has invalid parameter "from=\/x"/,
    'disable_symlinks off from=/x');

$ng->stop if $ng;
$t->done;
