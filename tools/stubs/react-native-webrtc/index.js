// Never loaded on Node: @libp2p/webrtc maps its WebRTC import to react-native-webrtc only for React Native bundlers.
throw new Error('react-native-webrtc is not available in Baran (Node uses node-datachannel)')
