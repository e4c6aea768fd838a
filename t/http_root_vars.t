#!/usr/bin/perl
# root and alias with variables, as nginx has them: a server_name regex
# whose captures (named or numbered) pick the document root, an alias in a
# regex location made of the location's captures (it names the whole file,
# the URI is not appended; a directory gets its index, try_files appends
# its names), an alias without variables in a regex location (also the
# whole file), a prefix alias and a root made of request variables, and
# $document_root, $realpath_root and $request_filename with them. Each
# request also goes to Debian's nginx with the same configuration when it
# is installed, and both answers must agree.
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
my $D = qr{\d{4}/\d\d/\d\d \d\d:\d\d:\d\d};
my ($wport, $nport) = ($t->port, $t->port);

my %files = (
    'sites/alpha/index.html'   => "alpha index\n",
    'sites/alpha/a.txt'        => "alpha a\n",
    'sites/beta/a.txt'         => "beta a\n",
    'users/bob/x.txt'          => "bob x\n",
    'users/bob/f.txt'          => "bob f\n",
    'users/bob/dir/index.html' => "bob dir index\n",
    'html/one.txt'             => "the one file\n",
    'html/index.html'          => "default index\n",
);
$t->write_file($_, $files{$_}) for sort keys %files;

sub http_body {
    my $port = shift;
    return <<"EOF";
    types { text/html html; text/plain txt; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port;
        server_name ~^(?<site>[a-z]+)\\.sites\\.test\$;
        root $P/sites/\$site;
    }
    server {
        listen 127.0.0.1:$port;
        server_name ~^([a-z]+)\\.num\\.test\$;
        root $P/sites/\$1/;
    }
    server {
        listen 127.0.0.1:$port default_server;
        server_name localhost;
        root $P/html;
        location ~ ^/u/(\\w+)/(.*)\$ { alias $P/users/\$1/\$2; }
        location ~ ^/one/ { alias $P/html/one.txt; }
        location ~ ^/tf/(\\w+)/ {
            alias $P/users/\$1/;
            try_files /f.txt =404;
        }
        location /pre/ { alias $P/users/\$arg_u/; }
        location /vroot/ { root $P/\$arg_d; }
        location = /dr {
            root $P/sites/\$arg_s;
            return 200 "dr=\$document_root rf=\$request_filename\\n";
        }
        location = /rr {
            root $P/sites/\$arg_s;
            return 200 "rr=\$realpath_root\\n";
        }
        location ~ ^/cap/(?<name>\\w+)\$ {
            root $P/sites/\$name;
            return 200 "dr=\$document_root rf=\$request_filename\\n";
        }
        location ~ ^/acap/(\\w+)\$ {
            alias $P/users/\$1/x.txt;
            return 200 "dr=\$document_root rf=\$request_filename\\n";
        }
    }
EOF
}

my ($ng, $nginx_up, $wm_up) =
  WmNginx::start_pair($t, \&http_body, $wport, $nport);
$wm_up or do { $t->done; exit };

my @cases = (
    # name, Host, path, status, body, Location
    [ 'a named server_name capture in root', 'alpha.sites.test', '/a.txt',
        200, "alpha a\n" ],
    [ 'another name, another root', 'beta.sites.test', '/a.txt', 200,
        "beta a\n" ],
    [ 'the index under a variable root', 'alpha.sites.test', '/', 200,
        "alpha index\n" ],
    [ 'a root that does not exist: 404', 'gamma.sites.test', '/a.txt',
        404 ],
    [ 'a numbered server_name capture in root (trailing slash)',
        'beta.num.test', '/a.txt', 200, "beta a\n" ],
    [ 'alias of regex captures: a file', 'localhost', '/u/bob/x.txt', 200,
        "bob x\n" ],
    [ 'alias of regex captures: a missing file', 'localhost',
        '/u/bob/nope.txt', 404 ],
    [ 'alias of regex captures: a directory without slash', 'localhost',
        '/u/bob/dir', 301, undef, 'http://localhost:PORT/u/bob/dir/' ],
    [ 'alias of regex captures: a directory gets its index', 'localhost',
        '/u/bob/dir/', 200, "bob dir index\n" ],
    [ 'alias without variables in a regex location: the whole file',
        'localhost', '/one/anything/here', 200, "the one file\n" ],
    [ 'alias of captures with try_files: the name is appended',
        'localhost', '/tf/bob/whatever', 200, "bob f\n" ],
    [ 'a prefix alias with a variable', 'localhost', '/pre/x.txt?u=bob',
        200, "bob x\n" ],
    [ 'a prefix alias with an empty variable', 'localhost', '/pre/x.txt',
        404 ],
    [ 'a root with a request variable', 'localhost',
        '/vroot/one.txt?d=html', 404 ],
    [ '$document_root and $request_filename of a variable root',
        'localhost', '/dr?s=alpha', 200,
        "dr=$P/sites/alpha rf=$P/sites/alpha/dr\n" ],
    [ '$realpath_root of a variable root', 'localhost', '/rr?s=beta', 200,
        "rr=$P/sites/beta\n" ],
    [ 'a named location capture in root', 'localhost', '/cap/beta', 200,
        "dr=$P/sites/beta rf=$P/sites/beta/cap/beta\n" ],
    [ '$request_filename of an alias of captures', 'localhost',
        '/acap/bob', 200,
        "dr=$P/users/bob/x.txt rf=$P/users/bob/x.txt\n" ],
);

my $off = $t->log_size;
for my $c (@cases) {
    my ($name, $host, $path, $status, $body, $location) = @$c;
    my $w = WmNginx::fetch($wport, "GET $path HTTP/1.1", "Host: $host");
    if ($w->{error}) {
        fail("$name: $w->{error}");
        next;
    }
    is($w->{status}, $status, "$name: $status");
    is($w->{body}, $body, "$name: body") if defined $body;
    if ($location) {
        (my $want = $location) =~ s/PORT/$wport/;
        is($w->{h}{location}, $want, "$name: Location");
    }
    next unless $nginx_up;
    my $n = WmNginx::fetch($nport, "GET $path HTTP/1.1", "Host: $host");
    is_deeply(WmNginx::comparable($w, $wport, 'content-type', 'location'),
        WmNginx::comparable($n, $nport, 'content-type', 'location'),
        "$name: as nginx");
}

ok($t->wait_log(qr/^$D \[error\] \d+#\d+: (?:\*\d+ )?open\(\) "\Q$P\E\/sites\/gamma\/a\.txt" failed \(2: No such file or directory\), client: 127\.0\.0\.1, server: ~\^\(\?<site>/m,
        from => $off, timeout => 3),
    'a missing variable root: open() "<the made path>" failed')
  or diag($t->log_since($off));

# ---- configuration errors ---------------------------------------------------

$t->conf_rejected(<<"EOF", 5, qr/unknown "nosuch" variable/, 'root $nosuch');
events { }
http { server { listen 127.0.0.1:$wport; root /srv/\$nosuch; } }
EOF
$t->conf_rejected(<<"EOF", 5, qr/unknown "nosuch" variable/,
events { }
http { server { listen 127.0.0.1:$wport; location /a/ { alias /srv/\$nosuch; } } }
EOF
    'alias $nosuch');

is(WmNginx::fetch($wport, 'GET /u/bob/x.txt HTTP/1.1')->{body}, "bob x\n",
    'still serving');
$ng->stop if $ng;
$t->done;
