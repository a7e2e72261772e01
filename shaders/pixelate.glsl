#version 330 core
// Pixelate (mosaic): the picture in square blocks of `size` pixels (of the effects buffer),
// each the mean of the pixels it covers, the grid centred on the picture. The mean is taken
// with bilinear taps two texels apart (exact for even sizes up to 16; larger blocks are
// sampled on an 8x8 grid). At size=1 (the default) the chain skips it.

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;

uniform float size; // @param default=1.0 min=1.0 max=128.0 bypass=1

void main() {
    vec2 res = vec2(textureSize(u_source, 0));
    float s = max(floor(size), 1.0);
    vec2 centre = floor(res * 0.5);
    vec2 start = floor((v_uv * res - centre) / s) * s + centre;  // block corner, in pixels
    int n = int(min(ceil(s * 0.5), 8.0));
    float spacing = s / float(n);
    vec3 sum = vec3(0.0);
    for (int j = 0; j < n; j++) {  // n taps a side, no more (a dynamic bound: a 4 px block
        for (int i = 0; i < n; i++) {  // costs 4 taps, not the 64 of the largest)
            vec2 p = start + (vec2(i, j) + 0.5) * spacing;
            sum += texture(u_source, p / res).rgb;
        }
    }
    f_color = vec4(sum / float(n * n), 1.0);
}
