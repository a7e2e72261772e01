#version 330 core
// Video feedback: this pass's own previous output, zoomed, rotated, shifted and hue-turned,
// under the new frame. Each frame the transform is applied again, so a zoom of 1.02 becomes
// a tunnel, a rotate of 2 a spiral. blend=0 keeps the brighter of the two (glowing trails),
// blend=1 mixes them (smear). Outside the previous image is black, so trails fade off the
// edges. At amount=0 (the default) it is the identity and the chain skips it.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;
uniform sampler2D u_previous;

uniform float amount;   // @param default=0.0 min=0.0 max=0.99 bypass=0
uniform float blend;    // @param default=0.0 min=0.0 max=1.0
uniform float zoom;     // @param default=1.0 min=0.5 max=2.0
uniform float rotate;   // @param default=0.0 min=-45.0 max=45.0
uniform float offset_x; // @param default=0.0 min=-0.5 max=0.5
uniform float offset_y; // @param default=0.0 min=-0.5 max=0.5
uniform float hue;      // @param default=0.0 min=-180.0 max=180.0

void main() {
    vec3 current = texture(u_source, v_uv).rgb;
    vec2 size = vec2(textureSize(u_previous, 0));
    vec2 aspect = size / max(size.x, size.y);
    // Where this pixel was last frame: undo the zoom and rotation about the centre (in square
    // units, so rotation is round whatever the aspect), then the offset (fractions of the
    // image; positive moves the picture right / up).
    vec2 d = (v_uv - 0.5) * aspect;
    float a = radians(-rotate);
    d = mat2(cos(a), sin(a), -sin(a), cos(a)) * d / zoom;
    vec2 uv = d / aspect + 0.5 - vec2(offset_x, offset_y);
    vec3 previous = texture(u_previous, uv).rgb;
    bool inside = all(greaterThanEqual(uv, vec2(0.0))) && all(lessThanEqual(uv, vec2(1.0)));
    previous = inside ? previous : vec3(0.0);
    if (hue != 0.0) {
        previous = clamp(hue_rotate(previous, hue), 0.0, 1.0);
    }
    vec3 lighten = max(current, previous * amount);
    vec3 smear = mix(current, previous, amount);
    f_color = vec4(mix(lighten, smear, blend), 1.0);
}
